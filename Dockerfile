# Multi-stage: build a wheel with its dependencies, run as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor monitor
COPY ingest ingest
COPY geofence geofence
COPY pings pings
COPY evaluator evaluator
COPY alerts alerts
COPY simulators simulators
COPY migrations migrations
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 monitor
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER monitor
WORKDIR /home/monitor
# made here, owned by the user, so that a volume mounted on it (compose: the audit anchors)
# starts writable by the worker
RUN mkdir -p anchors
ENV MONITOR_HOST=0.0.0.0 \
    MONITOR_PORT=8080 \
    MONITOR_ENVIRONMENT=production
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz')" || exit 1
# DATABASE_URL, REDIS_URL and MONITOR_SECRET_KEY come from the environment
ENTRYPOINT ["monitor"]
CMD ["serve"]
