# syntax=docker/dockerfile:1
# The hybrid agent with the SDK and no control plane (no Django). Build from the root:
#   docker build -f deploy/agent.Dockerfile -t assay-agent .
# Mount assay.yaml at /etc/assay/assay.yaml and pass the token as ASSAY_AGENT_TOKEN.
# Code locations: build FROM this image and COPY your project in (and pip install its deps).

FROM python:3.11-slim-bookworm AS build
RUN python -m venv /opt/assay
WORKDIR /src
COPY assay ./assay
COPY agent ./agent
COPY packages/assay-agent ./packages/assay-agent
# The agent's own package (packages/assay-agent): the agent and the SDK, no Django.
RUN /opt/assay/bin/pip install --no-cache-dir --disable-pip-version-check ./packages/assay-agent \
 && /opt/assay/bin/python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('django') is not None)"

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 assay \
 && useradd --system --uid 10001 --gid assay --home-dir /var/lib/assay --create-home assay \
 && mkdir -p /etc/assay && chown assay:assay /etc/assay
COPY --from=build /opt/assay /opt/assay
ENV PATH=/opt/assay/bin:$PATH \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/assay
# The agent has no HTTP port; `check-config` proves the config it runs with is valid.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["assay-agent", "check-config", "--config", "/etc/assay/assay.yaml"]
ENTRYPOINT ["assay-agent"]
CMD ["run", "--config", "/etc/assay/assay.yaml"]
