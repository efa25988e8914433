"""Copy the front-end libraries pinned in package.json from node_modules into the package.

We serve every asset ourselves (no CDN, the desk works offline) but do not commit third-party
code: ``npm ci`` fetches the pinned versions and this script puts the files the pages load
into ``src/yuqing/web/static/vendor/`` (git-ignored).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "node_modules"
VENDOR = ROOT / "src" / "yuqing" / "web" / "static" / "vendor"

# node_modules path -> file name under static/vendor
ASSETS = {
    "htmx.org/dist/htmx.min.js": "htmx.min.js",
    "echarts/dist/echarts.min.js": "echarts.min.js",
    "swagger-ui-dist/swagger-ui-bundle.js": "swagger-ui/swagger-ui-bundle.js",
    "swagger-ui-dist/swagger-ui.css": "swagger-ui/swagger-ui.css",
}


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    missing = [name for name in ASSETS if not (NODE_MODULES / name).is_file()]
    if missing:
        print(
            "缺少前端依赖文件，请先运行 npm ci --no-audit --no-fund: " + ", ".join(missing),
            file=sys.stderr,
        )
        return 1
    for source, target in ASSETS.items():
        (VENDOR / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(NODE_MODULES / source, VENDOR / target)
        print(f"{source} -> {(VENDOR / target).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
