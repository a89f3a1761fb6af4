# Webtasks API and worker image (Debian's Chromium and bubblewrap inside).
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium bubblewrap \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md worker.py ./
COPY webtasks ./webtasks
COPY workflows ./workflows
COPY activities ./activities
RUN pip install --no-cache-dir .
ENV WEBTASKS_DATA_DIR=/data WEBTASKS_CHROMIUM=/usr/bin/chromium
VOLUME /data
EXPOSE 8780
CMD ["webtasks", "api"]
