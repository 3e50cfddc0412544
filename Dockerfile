# syntax=docker/dockerfile:1
# One image for both processes: `newsletter daemon` (poll, build, send) and `newsletter serve`
# (web archive, subscribe / unsubscribe). See README "Running in production".

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY newsletter/ newsletter/
COPY templates/ templates/
# A wheel carries the package data: templates, prompts and the relevance lexicon.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
# FORWARDED_ALLOW_IPS: uvicorn trusts X-Forwarded-For only from these (the reverse proxy).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FORWARDED_ALLOW_IPS=127.0.0.1
RUN groupadd --system --gid 10001 newsletter \
 && useradd --system --uid 10001 --gid newsletter --home-dir /var/lib/newsletter \
      --create-home --shell /usr/sbin/nologin newsletter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY deploy/config.yaml /etc/newsletter/config.yaml
USER 10001:10001
WORKDIR /var/lib/newsletter
VOLUME ["/var/lib/newsletter"]
EXPOSE 8000
# The web app answers /healthz once its database does; the daemon overrides this (compose.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["newsletter"]
CMD ["serve", "--config", "/etc/newsletter/config.yaml", "--host", "0.0.0.0", "--port", "8000"]
