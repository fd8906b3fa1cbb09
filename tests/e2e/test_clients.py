"""BentoML's own Python clients against a real server: every endpoint, jobs too."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import bentoml
import pytest

from sentiment.client import SyncHTTPClient

pytestmark = pytest.mark.e2e
REVIEWS = ["a wonderful, moving film", "a dull, lifeless mess", "not bad at all"]


@pytest.fixture
def reviews_file(tmp_path: Path) -> Path:
    path = tmp_path / "reviews.csv"
    path.write_text("text\n" + "\n".join(REVIEWS) + "\n")
    return path


def test_sync_client_classifies_explains_and_runs_a_job(
    server_url: str, reviews_file: Path
) -> None:
    with SyncHTTPClient(server_url) as client:
        predictions = client.classify(texts=REVIEWS)
        assert [p["label"] for p in predictions][:2] == ["positive", "negative"]
        (explained,) = client.explain(texts=REVIEWS[:1], top=3)
        assert explained["label"] == "positive" and explained["contributions"]
        task = client.classify_file.submit(file=reviews_file)
        assert client._file_manager._opened_files == []  # the upload was closed
        deadline = time.monotonic() + 60
        while task.get_status().value == "in_progress":
            assert time.monotonic() < deadline, "job did not finish in 60 s"
            time.sleep(0.2)
        assert task.get_status().name == "COMPLETED"
        result = task.get()
    assert len(result.strip().splitlines()) == len(REVIEWS) + 1
    assert result.startswith("text,label,score,rejected")


def test_async_client_classifies_explains_and_runs_a_job(
    server_url: str, reviews_file: Path
) -> None:
    async def run() -> str:
        async with bentoml.AsyncHTTPClient(server_url) as client:
            predictions = await client.classify(texts=REVIEWS)
            assert [p["label"] for p in predictions][:2] == ["positive", "negative"]
            (explained,) = await client.explain(texts=REVIEWS[1:2], top=3)
            assert explained["label"] == "negative"
            task = await client.classify_file.submit(file=reviews_file)
            deadline = time.monotonic() + 60
            while (await task.get_status()).value == "in_progress":
                assert time.monotonic() < deadline, "job did not finish in 60 s"
                await asyncio.sleep(0.2)
            return str(await task.get())

    result = asyncio.run(run())
    assert len(result.strip().splitlines()) == len(REVIEWS) + 1
    assert result.startswith("text,label,score,rejected")


def test_bentomls_own_sync_submit_still_fails_without_the_workaround(
    server_url: str, reviews_file: Path
) -> None:
    with bentoml.SyncHTTPClient(server_url) as client:
        with pytest.raises(AttributeError, match="_opened_files"):
            client.classify_file.submit(file=reviews_file)


def test_score_cli_remote_mode_matches_local_scoring(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    import score
    from devtools.corpus import corpus_reviews

    texts = [*list(corpus_reviews())[:3000], "ab", "123458303"]
    source = tmp_path / "in.csv"
    pd.DataFrame({"review": texts}).to_csv(source, index=False)
    remote, local = tmp_path / "remote.csv", tmp_path / "local.csv"
    common = ["--text-column", "review"]
    assert score.main([str(source), str(remote), "--remote", server_url, *common]) == 0
    out = capsys.readouterr().out
    assert "scored 3,000 rows, rejected 2" in out and "remotely" in out
    assert score.main([str(source), str(local), *common]) == 0
    by_service, in_process = pd.read_csv(remote), pd.read_csv(local)
    assert list(by_service["label"].fillna("")) == list(in_process["label"].fillna(""))
    assert list(by_service["rejected"].fillna("")) == list(
        in_process["rejected"].fillna("")
    )


def test_score_cli_remote_errors_are_one_line_and_write_nothing(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import score
    from devtools.servers import free_port

    source = tmp_path / "in.csv"
    source.write_text("text\na wonderful film\n")
    out = tmp_path / "out.csv"
    cases = [
        (["--remote", f"http://127.0.0.1:{free_port()}"], "cannot reach"),
        (["--remote", server_url, "--text-column", "nope"], "failed"),
    ]
    for extra, reason in cases:
        assert score.main([str(source), str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("score.py: error:") and reason in err, err
        assert err.count("\n") == 1
        assert not out.exists() and list(tmp_path.iterdir()) == [source]
