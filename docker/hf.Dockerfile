# trainer-hf: Node runs the contract (one bundled file), Python runs the framework through dist/python/bridge.py.
# Build from the repository root after `npm ci && npx nx build hf`:
#   docker build -f docker/hf.Dockerfile -t trainer-hf:latest .
# For GPUs, start FROM an image that has CUDA and the framework's torch build (e.g. pytorch/pytorch:…-runtime) and
# keep the rest: the bridge only needs `python3` and requirements.txt.
FROM python:3.11-slim AS runtime
ARG NODE_MAJOR=20
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
 && mkdir -p /etc/apt/keyrings \
 && curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg \
 && echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" > /etc/apt/sources.list.d/nodesource.list \
 && apt-get update && apt-get install -y --no-install-recommends nodejs \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Requirements first: the slow pip layer stays cached while the TypeScript changes.
COPY apps/hf/requirements.txt ./requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
# dist/ is the whole app: main.js, the converter's worker, and python/ (bridge.py and the trainer_bridge runtime).
COPY apps/hf/dist/ ./dist/
ENV TRAINER_PYTHON=/usr/local/bin/python3 \
    WORK_DIR=/work \
    NODE_ENV=production
VOLUME /work
# Exec form, so SIGTERM reaches node directly (it forwards a clean stop to the Python child).
ENTRYPOINT ["node", "/app/dist/main.js"]
