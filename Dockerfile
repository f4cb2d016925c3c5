# The dynabox sandbox image: Python 3 (also as `python`) with the data-science stack, git and node, run as a
# non-root user, with the kernel supervisor from sandbox/ as the container's main process.
# BASE_IMAGE is debian:bookworm-slim when a registry answers; otherwise dynabox bootstraps an
# equivalent image from the Debian mirror (debootstrap + docker import) and passes its tag here.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      python3 python3-numpy python3-pandas python3-scipy python3-sklearn \
      python3-matplotlib python3-pytest python-is-python3 git nodejs \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*

# uid 1000 owns the workspace; the root file system is mounted read-only at run time.
RUN useradd --uid 1000 --user-group --no-create-home --home-dir /tmp --shell /bin/bash sandbox \
 && mkdir -p /workspace \
 && chown sandbox:sandbox /workspace

COPY sandbox/ /opt/dynabox/

ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/.matplotlib \
    PYTHONPATH=/opt/dynabox/lib

USER 1000:1000
WORKDIR /workspace
ENTRYPOINT ["python3", "/opt/dynabox/kernel.py"]
