"""Expected data errors end in one clear message, no traceback: network, corrupt zip, images."""

import socket
import threading
import zipfile

import pytest

from fedmix.datasets import safe_extract, user_errors
from fedmix.datasets.download import fetch_file
from fedmix.datasets.registry import RemoteFile


@pytest.fixture
def dropping_server():
    """Answers one request with a 1 MB Content-Length, sends 100 bytes, drops the connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/Dataset_BUSI.zip"
    thread.join(timeout=5)
    srv.close()


def _one_line_exit(capfd, action) -> str:
    with pytest.raises(SystemExit) as exit_info, user_errors():
        action()
    assert exit_info.value.code == 1
    err = capfd.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_dropped_connection_gives_one_message_and_leaves_no_part_file(
    tmp_path, capfd, dropping_server
):
    remote = RemoteFile("Dataset_BUSI.zip", dropping_server, "sha256:" + "0" * 64)
    err = _one_line_exit(capfd, lambda: fetch_file(remote, tmp_path))
    assert f"could not download {dropping_server}" in err and "Check the connection" in err
    assert "place the extracted dataset folder" in err
    assert list(tmp_path.iterdir()) == []


def test_refused_connection_gives_one_message(tmp_path, capfd):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = RemoteFile("x.zip", f"http://127.0.0.1:{port}/x.zip", "sha256:" + "0" * 64)
    err = _one_line_exit(capfd, lambda: fetch_file(remote, tmp_path))
    assert "could not download" in err and "ConnectionError" in err


def test_bad_crc_zip_gives_one_message_and_extracts_nothing(tmp_path, capfd):
    archive = tmp_path / "Dataset_BUSI.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as z:
        z.writestr("Dataset_BUSI_with_GT/benign/benign (1).png", b"hello world " * 50)
    data = archive.read_bytes()
    at = data.index(b"hello world")
    archive.write_bytes(data[:at] + b"jello" + data[at + 5 :])  # same length, CRC now wrong
    err = _one_line_exit(capfd, lambda: safe_extract(archive, tmp_path / "out"))
    assert "corrupt archive" in err and "Bad CRC-32" in err and "download it again" in err
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob("out.tmp-*"))


def test_other_errors_keep_their_traceback():
    with pytest.raises(ZeroDivisionError), user_errors():
        1 / 0  # noqa: B018 - a bug, not a user error: it must not be hidden
