"""The README as a landing page and the docs site: the README stays small, its commands and tour work as
written, its links lead somewhere, and the real ``mkdocs build --strict`` builds every page, with the bundled
pack's page generated from the policy files."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import markdown
import pytest

from imagelint.policy import bundled_packs, bundled_policy_dir, load_policies
from tests.conftest import policy_yaml, run_cli

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
sys.path.insert(0, str(ROOT / "docs" / "hooks"))
import bundled_pack  # noqa: E402 - the MkDocs hook, a file of the docs rather than of the package


def test_readme_is_a_landing_page():
    assert len(README.encode("utf-8")) <= 12 * 1024
    # the two commands, exactly as a newcomer copies them
    assert "\npython3 -m venv .venv && . .venv/bin/activate && pip install . && imagelint check --sample\n" in README
    assert "\nbash .ci/run\n" in README


def test_readme_links_lead_somewhere():
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    local = [link for link in links if not re.match(r"[a-z]+:", link)]
    assert len(local) > 10
    missing = [link for link in local if not (ROOT / link.split("#", 1)[0]).exists()]
    assert missing == []


def test_readme_tour_policy_and_its_tests_pass_as_written(tmp_path):
    # the tour's policy and test file, each a ```yaml block headed by its path
    files = re.findall(r"```yaml\n# (my-policies/\S+)\n(.*?)```", README, re.S)
    assert [name for name, _ in files] == [
        "my-policies/private-images-encrypted.yaml",
        "my-policies/private-images-encrypted.test.yaml",
    ]
    for name, text in files:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    validate = run_cli("validate", "--strict", "my-policies/", cwd=tmp_path)
    assert (validate.returncode, validate.stderr) == (0, "1 policies OK\n")
    tested = run_cli("test", "my-policies/", cwd=tmp_path)
    assert (tested.returncode, tested.stdout) == (0, "3 passed, 0 failed\n")  # as the README's comment says
    assert '# "3 passed, 0 failed"' in README


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    # every page of the nav is built, the hook's own file is not published
    nav_pages = re.findall(r":\s+(\S+\.md)$", (ROOT / "mkdocs.yml").read_text(encoding="utf-8"), re.M)
    assert len(nav_pages) >= 15
    for page in nav_pages:
        built = site / ("index.html" if page == "index.md" else page.removesuffix(".md") + "/index.html")
        assert built.is_file(), page
    assert not (site / "hooks").exists()
    # the generated page holds every bundled policy, linked from its table
    pack = (site / "bundled-policies" / "index.html").read_text(encoding="utf-8")
    for name, folder in bundled_packs().items():
        for policy in load_policies([folder]):
            anchor = f"{name}-{policy.name}"  # several packs: each section's id carries its pack's name
            assert f'id="{anchor}"' in pack and f'href="#{anchor}"' in pack, anchor
    # CONTRIBUTING.md is included whole in the site
    assert "How long the suite takes" in (site / "contributing" / "index.html").read_text(encoding="utf-8")


def test_a_broken_link_or_anchor_fails_the_build(tmp_path):
    # the site's settings make --strict catch both (a copy of the site, one page with bad links)
    for name in ("mkdocs.yml", "CONTRIBUTING.md"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(["cp", "-r", str(ROOT / "docs"), str(tmp_path / "docs")], check=True)
    for link, complaint in (
        ("[x](no-such-page.md)", "contains a link 'no-such-page.md', but the target is not found"),
        ("[x](ci.md#no-such-anchor)", "does not contain an anchor '#no-such-anchor'"),
    ):
        (tmp_path / "docs" / "exit-codes.md").write_text(f"# Exit codes\n\n{link}\n", encoding="utf-8")
        result = subprocess.run(
            [str(BIN / "mkdocs"), "build", "--strict", "--site-dir", str(tmp_path / "site")],
            cwd=tmp_path,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 1 and complaint in result.stderr, result.stderr


def test_bundled_pack_page_has_every_policy_of_the_installed_pack():
    page = bundled_pack.render()
    assert len(load_policies([bundled_policy_dir()])) >= 10
    assert "## The ims pack" in page and "## The openstack pack" in page
    for name, folder in bundled_packs().items():
        for p in load_policies([folder]):
            assert f"\n### {p.name} {{#{name}-{p.name}}}\n" in page
            assert f"severity **{p.severity.label}**" in page
            assert "How to fix: " in page.split(f"{{#{name}-{p.name}}}", 1)[1].split("\n### ", 1)[0], p.name
            for v in p.validations:
                assert v.expression.text.strip() in page


def test_packs_in_folders_are_sections_of_their_own(tmp_path):
    # a bundled folder of packs (e.g. policies/ims/, policies/openstack/), each loaded alone: a name may repeat
    for pack, severity in (("ims", "high"), ("openstack", "low")):
        (tmp_path / pack).mkdir()
        (tmp_path / pack / "p.yaml").write_text(policy_yaml("same-name", severity=severity), encoding="utf-8")
    assert [name for name, _ in bundled_pack.packs(tmp_path)] == ["ims", "openstack"]
    page = bundled_pack.render(tmp_path)
    assert "## The ims pack" in page and "## The openstack pack" in page
    assert "[same-name](#ims-same-name)" in page and "### same-name {#openstack-same-name}" in page
    # a folder holding policy files itself is one pack
    (tmp_path / "ims" / "p.yaml").rename(tmp_path / "q.yaml")
    assert bundled_pack.packs(tmp_path) == [("", tmp_path)]


@pytest.mark.parametrize(
    "title",
    ["<script>alert(1)</script>", "a | b", "**bold** _em_ [link](http://x)", "`code`", "# heading"],
)
def test_policy_text_is_plain_text_on_the_page(tmp_path, title):
    (tmp_path / "p.yaml").write_text(policy_yaml("p", title=title), encoding="utf-8")
    page = markdown.markdown(bundled_pack.render(tmp_path), extensions=["tables", "attr_list"])
    assert "<script>" not in page and "<strong>bold" not in page and '<a href="http://x"' not in page
    row = re.search(r'<td><a href="#p">p</a></td>\s*<td>high</td>\s*<td>(.*?)</td>', page)
    assert row is not None, page  # a | in the title did not split the row
    assert row.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">") == title
