"""The Dockerfile of a bundle: multi-stage, slim and pinned, non-root, read-only friendly.

The build stage installs the lock into a virtual environment (hash-checked when the lock
has hashes); the runtime stage copies only that environment and the bundle, runs as an
unprivileged user, writes nowhere but /tmp, serves on ``$PORT`` (8080 by default) and
answers SageMaker's ``docker run IMAGE serve`` too.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from podium.core.errors import ConfigError

DOCKERFILE = """\
# {model}: built by podium {podium} from the bundle in this folder.
#   docker build -t {image} .
#   docker run --rm --read-only --tmpfs /tmp -p 8080:8080 {image}

FROM python:{python}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.lock ./
RUN python -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-deps --no-compile -r requirements.lock
{wheel_step}# Test suites and the installer are dead weight at run time (about 150 MB).
RUN find /opt/venv -depth -type d -name tests -exec rm -rf {{}} + \\
 && /opt/venv/bin/python -m pip uninstall -q -y pip setuptools

FROM python:{python}-slim-bookworm
RUN groupadd --system --gid 10001 podium \\
 && useradd --system --uid 10001 --gid podium --no-create-home --shell /usr/sbin/nologin podium
COPY --from=build /opt/venv /opt/venv
COPY . /app/bundle
# SageMaker starts the container with `serve`.
RUN install -m 755 /app/bundle/serve /usr/local/bin/serve
ENV PATH=/opt/venv/bin:$PATH \\
    PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PODIUM_HOME=/tmp/podium \\
    HOME=/tmp \\
    PORT=8080
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \\
  CMD ["python", "-c", "{probe}"]
CMD ["serve"]
"""

# The slim image has no curl: the health check asks the ready route with the stdlib.
PROBE = (
    "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + "
    "os.environ.get('PORT', '8080') + '/v2/health/ready', timeout=2)"
)

WHEEL_STEP = """\
COPY {wheel} ./{wheel}
RUN /opt/venv/bin/pip install --no-deps --no-compile ./{wheel}
"""

DOCKERIGNORE = """\
# Only the bundle goes into the image (every file it lists in SHA256SUMS).
**/__pycache__
*.pyc
*.venv
*.tar.gz
.git
"""

SERVE = """\
#!/bin/sh
# The container's command (and SageMaker's `docker run IMAGE serve`): the bundle on $PORT.
# A container must listen beyond its loopback; its network is the boundary (--insecure).
# PODIUM_AUTH=1 (with PODIUM_DB_URL holding the tokens) requires API tokens instead.
exec podium serve --bundle "${PODIUM_BUNDLE:-/app/bundle}" --host "${HOST:-0.0.0.0}" \\
    --port "${PORT:-8080}" --insecure
"""


def image_tag(meta: dict[str, Any]) -> str:
    model = meta["model"]
    return f"podium-{str(model['model']).lower()}:{model['version']}"


def write_docker_files(out: Path, meta: dict[str, Any]) -> list[Path]:
    """Write ``Dockerfile``, ``.dockerignore`` and the ``serve`` script into ``out``."""
    wheel = meta["built"].get("podium_wheel")
    text = DOCKERFILE.format(
        model=meta["model"]["uri"],
        podium=meta["built"]["podium"],
        image=image_tag(meta),
        python=meta["built"]["python"],
        wheel_step=WHEEL_STEP.format(wheel=wheel) if wheel else "",
        probe=PROBE,
    )
    files = {out / "Dockerfile": text, out / ".dockerignore": DOCKERIGNORE, out / "serve": SERVE}
    for path, content in files.items():
        path.write_text(content)
    (out / "serve").chmod(0o755)
    return list(files)


def build_image(out: Path, tag: str) -> int:
    """``docker build`` the bundle's Dockerfile as ``tag``; return the image's size in bytes."""
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        raise ConfigError(
            f"No Docker engine answers here, so the image was not built; {out / 'Dockerfile'} "
            "is written.",
            hint=f"Build it where an engine runs: docker build -t {tag} {out}",
        )
    r = subprocess.run([docker, "build", "-q", "-t", tag, str(out)], capture_output=True, text=True)
    if r.returncode != 0:
        raise ConfigError(f"docker build failed:\n{r.stderr.strip()[-2000:]}")
    size = subprocess.run(
        [docker, "image", "inspect", tag, "--format", "{{.Size}}"], capture_output=True, text=True
    )
    return int(size.stdout.strip() or 0)
