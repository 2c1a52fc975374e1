"""`dvc plots show/diff` offline: DVC's HTML page loads Vega, Vega-Lite and Vega-Embed from a CDN, so without a
network it renders blank. .dvc/config points DVC at TEMPLATE instead, a page with the three libraries inlined
from their npm packages (BSD-3-Clause; versions in PACKAGES). Without a `{scripts}` placeholder DVC adds no
CDN tags.

Regenerate (needs the npm registry once, never at run time):
    python -m components.pipeline.dvc_plots > .dvc/offline_plots.html
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

TEMPLATE = Path(".dvc") / "offline_plots.html"  # .dvc/config: plots.html_template = offline_plots.html
PACKAGES = (("vega", "5.30.0", "build/vega.min.js"), ("vega-lite", "5.21.0", "build/vega-lite.min.js"),
            ("vega-embed", "6.26.0", "build/vega-embed.min.js"))

PAGE = """<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
{{refresh_tag}}
<title>DVC Plot</title>
<!-- genzoo: made by `python -m components.pipeline.dvc_plots`; {credits} -->
{licenses}
{scripts}
<style>table {{ border-spacing: 15px; }}</style>
</head>
<body>
{{plot_divs}}
</body>
</html>
"""


def page(libraries: list[tuple[str, str, str, str]]) -> str:
    """The template: `libraries` are (package, version, minified source, licence text), inlined in order."""
    scripts = "\n".join(f"<script>/* {name} {version} */\n{source}\n</script>"
                        for name, version, source, _ in libraries)
    credits = ", ".join(f"{name} {version} (BSD-3-Clause)" for name, version, _, _ in libraries)
    licenses = "\n".join(f"<!-- {name} {version}:\n{text.replace('--', '- -')}\n-->"
                         for name, version, _, text in libraries)
    return PAGE.format(credits=credits, licenses=licenses, scripts=scripts)


def _read(tar: tarfile.TarFile, member: str) -> str:
    f = tar.extractfile(member)
    if f is None:
        raise SystemExit(f"{member} is not a file in the npm package")
    return f.read().decode("utf-8")


def from_npm() -> str:
    """page() of PACKAGES, fetched with `npm pack` into a temporary folder."""
    libraries = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, version, member in PACKAGES:
            out = subprocess.run(["npm", "pack", f"{name}@{version}"], cwd=tmp, check=True, capture_output=True,
                                 text=True).stdout.strip().splitlines()[-1]
            with tarfile.open(Path(tmp) / out) as tar:
                source, licence = (_read(tar, f"package/{m}") for m in (member, "LICENSE"))
            if "</script" in source:
                raise SystemExit(f"{name} {version}: its source contains '</script', which would end the tag")
            libraries.append((name, version, source, licence.strip()))
    return page(libraries)


if __name__ == "__main__":
    sys.stdout.write(from_npm())
