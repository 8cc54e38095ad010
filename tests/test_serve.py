"""``dlmctl serve``'s HTTP API through an in-process client: every endpoint, the same text as the
Python API and the command line, bad requests as 4xx with one line, a full queue as 503."""

import json
import threading

import pytest

import dlmctl

pytest.importorskip("starlette")
from starlette.testclient import TestClient  # noqa: E402

from dlmctl.server.app import Limits, create_app  # noqa: E402


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return dlmctl.load(tiny_model_dir)


@pytest.fixture(scope="module")
def client(model):
    return TestClient(create_app(model, Limits(max_n=4, max_steps=50)))


def test_health_controls_and_the_page(client, model):
    assert client.get("/v1/health").json() == {"status": "ok", "model": str(model.path), "in_flight": 0}
    controls = {c["name"]: c for c in client.get("/v1/controls").json()}
    assert controls["length"]["example"] == "12" and "UPOS" in controls["pos"]["target_syntax"]
    page = client.get("/")
    assert page.status_code == 200 and "dlmctl playground" in page.text and "/v1/generate/stream" in page.text


def test_generate_gives_the_python_api_s_samples(client, model):
    response = client.post("/v1/generate", json={"controls": {"length": "6"}, "n": 2, "seed": 3,
                                                 "options": {"steps": 20}})
    assert response.status_code == 200, response.text
    samples = response.json()["samples"]
    expected = model.generate({"length": 6}, n=2, seed=3, steps=20)
    assert [s["text"] for s in samples] == [s.text for s in expected]
    assert all(len(s["text"].split()) == 6 and s["controls"] == {"length": "6"} for s in samples)


def test_the_stream_shows_sentences_forming_then_the_same_samples(client):
    body = {"controls": {"length": "5"}, "n": 2, "seed": 1, "options": {"steps": 20, "candidates": 1, "every": 5}}
    with client.stream("POST", "/v1/generate/stream", json=body) as response:
        assert response.status_code == 200
        events = [chunk for chunk in response.iter_text() if chunk]
    parsed = []
    for block in "".join(events).strip().split("\n\n"):
        kind, data = block.split("\n")
        parsed.append((kind.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    steps = [data for kind, data in parsed if kind == "step"]
    assert [s["step"] for s in steps] == [14, 10, 5, 0] and set(steps[0]["texts"]) == {"0", "1"}
    kind, final = parsed[-1]
    assert kind == "samples" and [s["text"] for s in final["samples"]] == [steps[-1]["texts"][k] for k in ("0", "1")]
    plain = client.post("/v1/generate", json={**body, "options": {"steps": 20, "candidates": 1}}).json()
    assert [s["text"] for s in plain["samples"]] == [s["text"] for s in final["samples"]]


def test_infill_keeps_the_template_s_words(client):
    response = client.post("/v1/infill", json={"template": "The ___ is a [2] .", "n": 2,
                                               "options": {"steps": 20, "mbr": 2, "judge": True}})
    assert response.status_code == 200, response.text
    for sample in response.json()["samples"]:
        words = sample["text"].split()
        assert words[0] == "The" and words[2:4] == ["is", "a"] and sample["oracle"] == {"infill": 1.0}


@pytest.mark.parametrize("body, status, message", [
    (b"not json", 400, "not JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'{"controls": {"length": "6"}, "steps": 5}', 400, "unknown field 'steps'"),
    (b'{"n": 50}', 400, '"n" must be between 1 and 4 on this server'),
    (b'{"options": {"steps": 5000}}', 400, '"options.steps" must be a whole number from 1 to 50'),
    (b'{"options": {"tail_stride": 0}}', 400, '"options.tail_stride" must be a whole number from 1 to 50'),
    (b'{"options": {"batch_size": 5}}', 400, "unknown option 'batch_size'"),
    (b'{"controls": {"lenght": "6"}}', 400, "did you mean 'length'"),
    (b'{"controls": {"length": "many"}}', 400, "'many' is not a number"),
    (b'{"controls": "length=6"}', 400, '"controls" must be an object'),
    (b'{"options": {"temperature": "hot"}}', 400, '"options.temperature" must be a number'),
    (b'{"options": {"word_temperature": "hot"}}', 400, '"options.word_temperature" must be a number'),
    (b'{"options": {"teacher_weight": "loud"}}', 400, '"options.teacher_weight" must be a number'),
    (b'{"options": {"weights": {"length": "x"}}}', 400, '"options.weights" must be an object of control name'),
    (b'{"controls": {"length": "' + b"9" * 20000 + b'"}}', 413, "over 16384 bytes"),
])
def test_bad_requests_get_a_4xx_with_one_line(client, body, status, message):
    response = client.post("/v1/generate", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error and "\n" not in error


def test_a_full_queue_answers_503_with_retry_after(model, monkeypatch):
    client = TestClient(create_app(model, Limits(queue=0, retry_after=7)))
    started, release = threading.Event(), threading.Event()

    def slow_generate(*args, **kwargs):
        started.set()
        release.wait(30)
        return []

    monkeypatch.setattr(model, "generate", slow_generate)
    first = threading.Thread(target=lambda: client.post("/v1/generate", json={}))
    first.start()
    try:
        assert started.wait(30)
        busy = client.post("/v1/generate", json={})
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "7"
        assert "busy" in busy.json()["error"]
    finally:
        release.set()
        first.join(30)
    assert client.post("/v1/generate", json={}).status_code == 200      # free again


def test_the_page_script_parses(tmp_path):
    """The playground's script is valid JavaScript (checked with Node where it is installed)."""
    import re
    import shutil
    import subprocess

    from dlmctl.server.app import PAGE

    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed")
    script = tmp_path / "page.js"
    script.write_text(re.search(r"<script>(.*)</script>", PAGE.read_text(), re.S).group(1))
    result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
