"""A local stand-in for the Google APIs kubeflow_runner's --submit and --schedule reach (OAuth
token, Cloud Storage, Vertex AI over REST), recording every request, so that the SDK's public
calls run for real without a network."""

import base64
import contextlib
import http.server
import json
import threading
import urllib.parse
from typing import Dict, Iterator, List

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

TOKEN_PREFIX = "token-for:"


class Recorder(http.server.ThreadingHTTPServer):
  requests: List[Dict]
  refuse_project: str = ""  # Vertex AI answers 403 for this project

  @property
  def url(self) -> str:
    return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
  server: Recorder

  def log_message(self, *args):  # quiet
    pass

  def _answer(self, status: int, body: Dict) -> None:
    data = json.dumps(body).encode()
    self.send_response(status)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Length", str(len(data)))
    self.end_headers()
    self.wfile.write(data)

  def _handle(self) -> None:
    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
    url = urllib.parse.urlparse(self.path)
    try:
      body = json.loads(raw) if raw else {}
    except ValueError:  # the OAuth token request is form-encoded
      body = dict(urllib.parse.parse_qsl(raw.decode()))
    self.server.requests.append(
      {
        "method": self.command,
        "path": url.path,
        "query": url.query,
        "auth": self.headers.get("Authorization"),
        "body": body,
      }
    )
    if url.path == "/token":  # a service account's signed assertion -> an access token
      token = TOKEN_PREFIX + _jwt_issuer(body["assertion"])
      self._answer(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})
    elif url.path.startswith("/storage/v1/b"):
      if self.command == "GET" and not url.path.endswith("/iam"):
        self._answer(404, {"error": {"code": 404, "message": "no such bucket"}})
      else:  # create the bucket, read or set its IAM policy
        self._answer(200, {"bindings": [], **body})
    elif self.server.refuse_project and f"/projects/{self.server.refuse_project}/" in url.path:
      self._answer(
        403, {"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}
      )
    elif url.path.endswith(("/pipelineJobs", "/schedules")):
      resource_id = urllib.parse.parse_qs(url.query).get("pipelineJobId", ["schedule-1"])[0]
      self._answer(200, {**body, "name": url.path.split("/v1/", 1)[1] + "/" + resource_id})
    else:
      self._answer(404, {"error": {"code": 404, "message": f"unknown {url.path}"}})

  do_GET = do_POST = do_PUT = _handle


@contextlib.contextmanager
def serve() -> Iterator[Recorder]:
  server = Recorder(("127.0.0.1", 0), _Handler)
  server.requests = []
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  try:
    yield server
  finally:
    server.shutdown()
    server.server_close()


def _jwt_issuer(token: str) -> str:
  payload = token.split(".")[1]
  return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"]


def caller(request: Dict) -> str:
  """The account a request was sent as: by a token from /token, or by a JWT it signed itself."""
  token = (request["auth"] or "").removeprefix("Bearer ")
  return token.removeprefix(TOKEN_PREFIX) if token.startswith(TOKEN_PREFIX) else _jwt_issuer(token)


def service_account_key(path: str, server: Recorder, email: str, project: str) -> None:
  """A service-account key file whose tokens come from `server`."""
  key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
  pem = key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
  ).decode()
  with open(path, "w") as f:
    json.dump(
      {
        "type": "service_account",
        "project_id": project,
        "private_key_id": "1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1",
        "token_uri": f"{server.url}/token",
      },
      f,
    )
