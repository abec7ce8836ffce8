"""imagelint: policy-as-code linter for cloud VM images.

The pipeline reads like the package (``docs/architecture.md``): ``sources`` yields images, ``policy``
loads and validates policy files, ``engines`` compile their CEL, ``judgement`` streams the images through
them into the frozen result model and decides the exit code, ``formats`` render that result, and ``cli``
wires the parts together, one module per command.
"""

__version__ = "0.1.0"
