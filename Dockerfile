FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
COPY pyproject.toml constraints.txt README.md ./
COPY crawlers crawlers
COPY pipelines pipelines
COPY incidents incidents
COPY flows flows
COPY console console
COPY bench bench
COPY config config
COPY dashboards dashboards
COPY prefect.yaml ./
RUN pip install -c constraints.txt -e .
ENTRYPOINT ["incidents"]
CMD ["run"]
