"""imagelint: policy-as-code linter for cloud VM images.

The pipeline reads like the package: ``_source`` yields images, ``_policy`` loads and validates policy
files, ``_engine`` compiles CEL, ``_evaluate`` streams images through the compiled policies into the
result model of ``_result``, ``_format`` renders that result, and ``cli`` decides the exit code.
"""

__version__ = "0.1.0"
