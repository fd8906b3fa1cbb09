"""Open Inference Protocol clients nobody here wrote, against a real server.

tritonclient (JSON tensors) and KServe's ``InferenceRESTClient`` run from
``.venv-clients``, ``mlserver infer`` from ``.venv-mlserver``: ``make test``
builds both from requirements/{clients,mlserver}.txt, because each pins a web
stack of its own. Every client must get the labels that ``/classify`` gives for
the same reviews.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from devtools.tools import skip_or_fail
from tests.conftest import PROJECT_DIR

pytestmark = pytest.mark.e2e

CLIENTS_BIN = PROJECT_DIR / ".venv-clients" / "bin"
MLSERVER_BIN = PROJECT_DIR / ".venv-mlserver" / "bin"
REVIEWS = [
    "a wonderful, moving film with superb performances",
    "a dull, lifeless and boring mess",
    "not bad at all",
    "the plot is thin but the acting is superb",
]
TRITON_SCRIPT = """
import json, sys
import numpy as np
import tritonclient.http as http

url, texts = sys.argv[1], json.loads(sys.argv[2])
client = http.InferenceServerClient(url)
ready = [client.is_server_live(), client.is_server_ready()]
ready.append(client.is_model_ready("sentiment"))
metadata = client.get_model_metadata("sentiment")
tensor = http.InferInput("text", [len(texts)], "BYTES")
tensor.set_data_from_numpy(np.array(texts, dtype=object), binary_data=False)
names = ("label", "score", "probabilities")
outputs = [http.InferRequestedOutput(n, binary_data=False) for n in names]
result = client.infer("sentiment", [tensor], outputs=outputs, request_id="triton-1")
raw = result.as_numpy("label").tolist()
labels = [x.decode() if isinstance(x, bytes) else str(x) for x in raw]
print(json.dumps({
    "ready": ready,
    "inputs": [i["name"] for i in metadata["inputs"]],
    "labels": labels,
    "scores": result.as_numpy("score").tolist(),
    "probabilities": result.as_numpy("probabilities").tolist(),
    "id": result.get_response()["id"],
}))
"""


KSERVE_SCRIPT = """
import asyncio, json, sys
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

async def main(url, texts):
    client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=30))
    tensor = InferInput(name="text", shape=[len(texts)], datatype="BYTES", data=texts)
    request = InferRequest(
        model_name="sentiment", infer_inputs=[tensor], request_id="kserve-1"
    )
    response = await client.infer(url, request, model_name="sentiment")
    ready = [
        await client.is_server_live(url),
        await client.is_model_ready(url, "sentiment"),
    ]
    await client.close()
    out = {o.name: o for o in response.outputs}
    labels = [x.decode() if isinstance(x, bytes) else str(x) for x in out["label"].data]
    print(json.dumps({"labels": labels, "id": response.id, "ready": ready}))

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


def client_bin(name: str, directory: Path = CLIENTS_BIN) -> Path:
    path = directory / name
    if not path.exists():
        skip_or_fail(
            f"{path} is missing: `make test` builds {directory.parent.name} "
            "(requirements/clients.txt, requirements/mlserver.txt)"
        )
    return path


@pytest.fixture(scope="module")
def classify_answers(server_url: str) -> list[dict[str, object]]:
    answer = httpx.post(f"{server_url}/classify", json={"texts": REVIEWS}, timeout=30)
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def test_tritonclient_gets_the_labels_of_classify(
    server_url: str, classify_answers: list[dict[str, object]]
) -> None:
    host = server_url.removeprefix("http://")
    result = subprocess.run(
        [str(client_bin("python")), "-c", TRITON_SCRIPT, host, json.dumps(REVIEWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["ready"] == [True, True, True]
    assert answer["inputs"] == ["text"] and answer["id"] == "triton-1"
    assert answer["labels"] == [a["label"] for a in classify_answers]
    assert answer["scores"] == pytest.approx(
        [a["score"] for a in classify_answers], abs=1e-6
    )
    positive = [row[1] for row in answer["probabilities"]]
    assert positive == pytest.approx(
        [a["probabilities"]["positive"] for a in classify_answers],
        abs=1e-6,  # type: ignore[index]
    )


def test_mlserver_infer_gets_the_labels_of_classify(
    server_url: str, classify_answers: list[dict[str, object]], tmp_path: Path
) -> None:
    requests = tmp_path / "requests.txt"
    with requests.open("w") as handle:
        for index, text in enumerate(REVIEWS):
            tensor = {"name": "text", "datatype": "BYTES", "shape": [1], "data": [text]}
            handle.write(json.dumps({"id": f"r{index}", "inputs": [tensor]}) + "\n")
    responses = tmp_path / "responses.txt"
    command = [
        str(client_bin("mlserver", MLSERVER_BIN)),
        "infer",
        "--url",
        server_url.removeprefix("http://"),
        "--model-name",
        "sentiment",
        "--input-data-path",
        str(requests),
        "--output-data-path",
        str(responses),
        "--transport",
        "rest",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    answers = [json.loads(line) for line in responses.read_text().splitlines() if line]
    assert len(answers) == len(REVIEWS), answers
    by_id = {}
    for answer in answers:
        label = next(o for o in answer["outputs"] if o["name"] == "label")
        by_id[answer["id"]] = label["data"][0]
    assert [by_id[f"r{i}"] for i in range(len(REVIEWS))] == [
        a["label"] for a in classify_answers
    ]


def test_kserve_rest_client_gets_the_labels_of_classify(
    server_url: str, classify_answers: list[dict[str, object]]
) -> None:
    result = subprocess.run(
        [
            str(client_bin("python")),
            "-c",
            KSERVE_SCRIPT,
            server_url,
            json.dumps(REVIEWS),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["ready"] == [True, True] and answer["id"] == "kserve-1"
    assert answer["labels"] == [a["label"] for a in classify_answers]
