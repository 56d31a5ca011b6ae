# syntax=docker/dockerfile:1
# trainer-hf. From the repository root:
#   docker build -f docker/hf.Dockerfile -t trainer-hf:0.1.0 \
#     --build-arg REVISION=$(git rev-parse HEAD) .
# Stage 1 (Node 24) builds the one bundle; stage 2 is Python with CUDA-capable torch (the PyPI wheels of
# requirements.txt carry the CUDA 12 runtime; the NVIDIA container toolkit mounts the driver) and Node copied in.

FROM node:24.22.3-bookworm-slim AS build
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
 && NX_DAEMON=false NX_NO_CLOUD=true npx nx build hf --output-style=static

FROM python:3.11.14-slim-bookworm AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://example.com/trainers
LABEL org.opencontainers.image.title="trainer-hf" \
      org.opencontainers.image.description="trainer-hf: a training container speaking the trainers contract" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# OpenCV's shared libraries and a font for the framework's plots; nothing fetched at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 fonts-dejavu-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# Node 24 from the official image: one static binary, no setup script.
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# Requirements before the bundle: the slow pip layer stays cached while the TypeScript changes.
COPY apps/hf/requirements.txt ./requirements.txt
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt
# dist/ is the whole app: main.js, the converter's worker, python/bridge.py and the trainer_bridge runtime.
COPY --from=build /src/apps/hf/dist/ ./dist/
COPY docker/entrypoint.sh ./entrypoint.sh
COPY docker/train.py ./train.py
RUN groupadd --gid 10001 trainer \
 && useradd --uid 10001 --gid 10001 --home-dir /work --no-create-home --shell /usr/sbin/nologin trainer \
 && mkdir -p /work && chown 10001:10001 /work
# Everything written at run time goes under WORK_DIR, so the root filesystem can be read-only.
ENV TRAINER_PYTHON=/opt/venv/bin/python \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NODE_ENV=production \
    WORK_DIR=/work \
    HOME=/work \
    XDG_CACHE_HOME=/work/cache \
    XDG_CONFIG_HOME=/work/config \
    MPLCONFIGDIR=/work/cache/matplotlib \
    TORCH_HOME=/work/cache/torch \
    HF_HOME=/work/cache/huggingface
USER 10001:10001
VOLUME /work
ENTRYPOINT ["/app/entrypoint.sh"]
