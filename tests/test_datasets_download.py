"""Downloads over a loopback HTTP server through the real pooch code path; safe extraction."""

import hashlib
import zipfile

import pytest
from fakes import fake_registry, make_busi_zip, serve, sha256

from fedmix.config import ConfigError
from fedmix.datasets.download import DownloadError, fetch_dataset, fetch_file, safe_extract
from fedmix.datasets.registry import RemoteFile


@pytest.fixture
def busi(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    return make_busi_zip(served)


def cfg(tmp_path, accept=("busi",)):
    return {"root": str(tmp_path / "downloads"), "accept_licences": list(accept), "urls": {}}


def test_fetch_dataset_downloads_checks_and_extracts(tmp_path, busi):
    with serve(busi.parent) as url:
        registry = fake_registry({busi.name: busi}, url)
        manifest = fetch_dataset("busi", cfg(tmp_path), registry)
    folder = tmp_path / "downloads" / "busi"
    assert (folder / "Dataset_BUSI.zip").read_bytes() == busi.read_bytes()
    assert manifest["files"] == {"Dataset_BUSI.zip": sha256(busi)}
    extracted = (
        folder / "Dataset_BUSI" / "Dataset_BUSI_with_GT" / "benign" / "benign (2)_mask_1.png"
    )
    assert extracted.is_file()
    assert not list(folder.glob("*.part")) and not list(folder.glob("*.tmp-*"))
    # Resumable: present with the right hash, so no server is needed the second time.
    assert fetch_dataset("busi", cfg(tmp_path), registry)["files"] == manifest["files"]


def test_hash_mismatch_removes_file_and_names_url_and_hashes(tmp_path, busi):
    wrong = "sha256:" + "0" * 64
    with serve(busi.parent) as url:
        remote = RemoteFile("Dataset_BUSI.zip", f"{url}/Dataset_BUSI.zip", wrong)
        with pytest.raises(DownloadError) as err:
            fetch_file(remote, tmp_path / "dl")
    msg = str(err.value)
    assert f"{url}/Dataset_BUSI.zip" in msg and wrong in msg and sha256(busi) in msg
    assert list((tmp_path / "dl").iterdir()) == []


def test_md5_hashes_are_checked(tmp_path, busi):
    md5 = "md5:" + hashlib.md5(busi.read_bytes()).hexdigest()
    with serve(busi.parent) as url:
        path = fetch_file(RemoteFile("Dataset_BUSI.zip", f"{url}/Dataset_BUSI.zip", md5), tmp_path)
    assert path.read_bytes() == busi.read_bytes()


def test_placed_file_with_wrong_hash_is_refused(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"not the published file")
    with pytest.raises(DownloadError, match="delete it"):
        fetch_file(RemoteFile("x.zip", None, "sha256:" + "1" * 64), tmp_path)


def test_file_without_url_names_how_to_get_it(tmp_path, busi):
    registry = fake_registry({busi.name: busi}, None)
    with pytest.raises(DownloadError, match="place the zip yourself"):
        fetch_dataset("busi", cfg(tmp_path), registry)


def test_no_download_without_licence_acceptance(tmp_path, busi):
    with serve(busi.parent) as url:
        registry = fake_registry({busi.name: busi}, url)
        with pytest.raises(ConfigError, match=r"CC BY 4\.0.*accept_licences"):
            fetch_dataset("busi", cfg(tmp_path, accept=()), registry)
    assert not (tmp_path / "downloads").exists()


def test_request_only_dataset_cannot_be_downloaded(tmp_path):
    with pytest.raises(ConfigError, match="request-only.*cvprip"):
        fetch_dataset("busis", cfg(tmp_path, accept=("busi",)))


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "ok/../../evil.txt"])
def test_malicious_zip_is_rejected_before_writing(tmp_path, member):
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("fine.txt", "fine")
        z.writestr(member, "pwned")
    with pytest.raises(DownloadError, match="unsafe member name"):
        safe_extract(archive, tmp_path / "out" / "x")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()
