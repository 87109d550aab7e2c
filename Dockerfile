FROM python:3.11-slim
WORKDIR /app
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 PREFECT_SERVER_ANALYTICS_ENABLED=false
COPY pyproject.toml constraints.txt README.md ./
COPY core core
COPY storage storage
COPY crawlers crawlers
COPY pipelines pipelines
COPY incidents incidents
COPY flows flows
COPY console console
COPY cli cli
COPY bench bench
COPY config config
# the dev set: signals.yaml → model.train trains the model from it and the sample on first use
COPY tests/data/dev_kursk tests/data/dev_kursk
COPY dashboards dashboards
COPY prefect.yaml ./
RUN pip install -c constraints.txt -e ".[ml]"
ENTRYPOINT ["incidents"]
CMD ["run"]
