# The pipeline image every Kubeflow / Vertex AI task runs (and Dataflow workers, with
# --dataflow): TFX's own image with this project installed by setup.py.
#   docker build -t REGION-docker.pkg.dev/PROJECT/REPO/image-pipeline:TAG .
FROM gcr.io/tfx-oss-public/tfx:1.21.0
WORKDIR /pipeline
COPY . .
RUN python -m pip install --no-cache-dir -c requirements.txt .
