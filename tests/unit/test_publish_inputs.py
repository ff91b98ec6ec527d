"""``rasd publish`` reads and checks every input before it sends anything (:func:`rasd.inputs.scan`).

Why: a bad file in a folder used to stop a publish part-way (earlier files sent, later never) with a
traceback naming no file, and files in sub-folders or of other types were skipped silently.  Now every
problem is known, with its file and line, before the first message leaves — and a publish that cannot
read its inputs (or, with ``--strict``, holds an invalid article) sends nothing at all.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from rasd.cli import main
from rasd.inputs import expand, read_articles, rejection, scan

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
SEED = sorted(SEEDS.glob("*.txt"))[0]
GOOD = {"id": "g-1", "title": "غارات على المدينة", "body": "شنت طائرات حربية غارات على المدينة صباح اليوم."}


def jsonl(*lines: bytes) -> bytes:
    return b"\n".join(lines) + b"\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A folder as a newsroom exports it: articles at two depths, a bad line, notes, a hidden folder."""
    (tmp_path / "b-sub" / ".git").mkdir(parents=True)
    (tmp_path / "b-sub" / ".git" / "x.jsonl").write_bytes(jsonl(orjson.dumps(GOOD)))
    (tmp_path / "a.txt").write_text(SEED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b-sub" / "feed.jsonl").write_bytes(
        jsonl(orjson.dumps(GOOD), b'{"title": broken', b"", b'{"title": "no body"}')
    )
    (tmp_path / "b-sub" / "list.json").write_bytes(orjson.dumps([GOOD, 7]))
    (tmp_path / "c.txt").write_text("", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# not an article\n", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    return tmp_path


def test_folders_are_read_recursively_in_path_order(tree: Path) -> None:
    found = scan([tree])
    assert [item.where for item in found.items] == [
        f"{tree}/a.txt", f"{tree}/b-sub/feed.jsonl:1", f"{tree}/b-sub/feed.jsonl:2", f"{tree}/b-sub/feed.jsonl:4",
        f"{tree}/b-sub/list.json: item 1", f"{tree}/b-sub/list.json: item 2",
    ]
    assert found.files == 4 and found.failed == []


def test_every_skipped_file_says_why(tree: Path) -> None:
    reasons = {skip.path.relative_to(tree).as_posix(): skip.reason for skip in scan([tree]).skipped}
    assert reasons == {
        ".DS_Store": "hidden file",
        "notes.md": "not a .jsonl, .json, .xml, .rss, .atom or .txt file",
        "b-sub/.git": "hidden folder, not read",
        "c.txt": "empty",
    }


def test_invalid_articles_carry_the_normalizers_reason(tree: Path) -> None:
    """The check is the normalizer's own (decode, then clean), so what it flags is what would be dead-lettered."""
    errors = {item.where.removeprefix(f"{tree}/"): item.error for item in scan([tree]).invalid}
    assert set(errors) == {"b-sub/feed.jsonl:2", "b-sub/feed.jsonl:4", "b-sub/list.json: item 2"}
    assert errors["b-sub/feed.jsonl:2"].startswith("not valid JSON")  # type: ignore[union-attr]
    assert "body: Field required" in errors["b-sub/feed.jsonl:4"]  # type: ignore[operator]
    assert errors["b-sub/list.json: item 2"] == "expected a JSON object, got int"


def test_lines_are_sent_as_they_are(tree: Path) -> None:
    """A malformed line goes out byte for byte (so the DLQ holds what the feed sent), CRLF and BOM aside."""
    path = tree / "crlf.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + orjson.dumps(GOOD) + b"\r\n" + b"{oops\r\n")
    found = scan([path])
    assert [item.raw for item in found.items] == [orjson.dumps(GOOD), b"{oops"]
    assert found.items[0].error is None and found.items[1].error is not None


def test_an_article_empty_after_cleaning_is_invalid() -> None:
    """Only boilerplate: it decodes, but the normalizer's cleaning leaves nothing and would dead-letter it."""
    chrome = orjson.dumps({"body": "اقرأ أيضا\n(الصورة: غيتي)"})
    assert rejection(chrome) == "article is empty after cleaning (only boilerplate, captions or dates)"
    assert rejection(orjson.dumps({"body": "   "})) == "invalid RawArticle: <root>: Value error, body is empty"
    assert rejection(orjson.dumps(GOOD)) is None


@pytest.mark.parametrize(("name", "content", "expected"), [
    pytest.param("broken.json", b'[\n  {"body": "x"},\n  {"body": }\n]', "broken.json:3:12: not valid JSON",
                 id="json-that-does-not-parse"),
    pytest.param("latin1.txt", "خبر\nعن café".encode() + b"\n\xe9t\xe9\n", "latin1.txt:3: not UTF-8 text",
                 id="text-not-utf8"),
    pytest.param("notes.md", b"# hi", "notes.md: unsupported file type", id="named-with-another-type"),
])
def test_inputs_that_cannot_be_read_fail_with_file_and_line(tmp_path: Path, name: str, content: bytes,
                                                            expected: str) -> None:
    (tmp_path / name).write_bytes(content)
    failed = scan([tmp_path / name]).failed
    assert len(failed) == 1 and failed[0].startswith(f"{tmp_path}/{expected}"), failed


def test_a_missing_path_fails_and_a_file_named_twice_is_read_once(tmp_path: Path) -> None:
    found = scan([SEEDS, SEED, tmp_path / "nope.jsonl"])
    assert len(found.items) == 2 and found.files == 2
    assert found.failed == [f"{tmp_path}/nope.jsonl: no such file or directory"]


def test_process_reads_folders_recursively_too(tree: Path) -> None:
    """``rasd process`` and ``rasd run`` share the folder walk: the same files, in the same order."""
    assert [p.name for p in expand([tree])] == ["a.txt", "feed.jsonl", "list.json", "c.txt"]
    assert len(list(read_articles([tree]))) == 6


# --- the command: what it refuses before any broker is involved ------------------------------------------


def publish(*args: str) -> subprocess.CompletedProcess[str]:
    """``rasd publish`` against a port nothing listens on: any attempt to reach Kafka would exit 3."""
    env = {**os.environ, "RASD_BOOTSTRAP_SERVERS": "127.0.0.1:9"}
    return subprocess.run([sys.executable, "-m", "rasd", "publish", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_strict_sends_nothing_when_an_article_is_invalid(tree: Path) -> None:
    proc = publish("--strict", str(tree))
    assert proc.returncode == 4, proc.stderr
    assert f"rasd publish: {tree}/b-sub/feed.jsonl:2: invalid article: not valid JSON" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "rasd publish: nothing sent: 3 invalid article(s) in 2 file(s) (--strict)"
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_an_unreadable_input_stops_everything_before_sending(tree: Path) -> None:
    proc = publish(str(tree), str(tree / "missing.jsonl"))
    assert proc.returncode == 4, proc.stderr
    assert f"rasd publish: {tree}/missing.jsonl: no such file or directory" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "rasd publish: nothing sent: 1 input(s) could not be read (listed above)"


def test_a_folder_without_articles_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "readme.md").write_text("x", encoding="utf-8")
    assert main(["publish", str(tmp_path)]) == 4
