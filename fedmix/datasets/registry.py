"""What every real dataset is, where it comes from, how to check it, and who to credit.

Facts come from each dataset's own page (linked in each entry's ``homepage``). A dataset is
either ``automatic`` (every file has a URL and a hash;
:func:`fedmix.datasets.download.fetch_dataset` fetches it once its licence is accepted in the
config) or ``request-only`` (the user obtains it under a signed agreement and places the folder;
:mod:`fedmix.datasets.manual` checks it).

Which dataset each client of a task is read from is in :mod:`fedmix.datasets.federations`.
"""

from __future__ import annotations

import dataclasses

__all__ = ["REGISTRY", "Dataset", "RemoteFile", "get_dataset"]

_DATAVERSE = "https://dataverse.harvard.edu/api/access/datafile"
_ISIC = "https://isic-challenge-data.s3.amazonaws.com/2018"


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: saved as ``name``; ``url`` None means the user places it by hand.

    ``known_hash`` is ``"<algorithm>:<hex digest>"`` (``sha256`` or ``md5``), checked on every
    download and on every hand-placed file; ``""`` where no hash is published (BUS-BRA): the
    SHA-256 found on first download is then recorded in the manifest and printed, and the
    content is verified file by file. ``extract`` says whether it is a zip to unpack.
    """

    name: str
    url: str | None
    known_hash: str
    extract: bool = True


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Registry entry: files, expected counts, layout, licence, citation and access."""

    key: str
    title: str
    access: str  # "automatic" | "request-only"
    files: tuple[RemoteFile, ...]
    counts: dict[str, int]
    layout: str
    licence: str
    licence_url: str
    citation: str
    homepage: str
    request: str = ""  # how to obtain request-only data (or a file without URL)

    @property
    def n_images(self) -> int:
        """Images of the complete dataset: ``counts['images']``, else the sum of the classes."""
        return self.counts.get("images", sum(self.counts.values()))


REGISTRY: dict[str, Dataset] = {
    "busi": Dataset(
        key="busi",
        title="BUSI: Breast Ultrasound Images Dataset",
        access="automatic",
        files=(
            RemoteFile(
                "Dataset_BUSI.zip",
                "https://scholar.cu.edu.eg/Dataset_BUSI.zip",
                "sha256:b2ce09f6063a31a73f628b6a6ee1245187cbaec225e93e563735691d68654de7",
            ),
        ),
        counts={"benign": 437, "malignant": 210, "normal": 133},
        layout=(
            "Dataset_BUSI_with_GT/{benign,malignant,normal}/<class> (<k>).png with masks "
            "<class> (<k>)_mask.png and extra lesions <class> (<k>)_mask_1.png, _mask_2.png"
        ),
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        citation=(
            "Al-Dhabyani W, Gomaa M, Khaled H, Fahmy A. Dataset of breast ultrasound images. "
            "Data in Brief 28:104863 (2020). doi:10.1016/j.dib.2019.104863"
        ),
        homepage="https://scholar.cu.edu.eg/?q=afahmy/pages/dataset",
        request=(
            "if scholar.cu.edu.eg is unreachable, download Dataset_BUSI.zip from a mirror and set "
            "datasets.urls.Dataset_BUSI.zip to a file you serve, or place the zip yourself"
        ),
    ),
    "busis": Dataset(
        key="busis",
        title="BUSIS: breast ultrasound image segmentation benchmark",
        access="request-only",
        files=(),
        counts={"images": 562},
        layout=(
            "Original/<image>, GT/<stem>_GT.bmp, BUSIS562.csv with columns "
            "'img name', 'Ground Truth Name', 'tumor type' (B/M)"
        ),
        licence="research use under a signed data-use agreement",
        licence_url="http://cvprip.cs.usu.edu/busbench/",
        citation=(
            "Zhang Y, Xian M, Cheng HD, et al. BUSIS: a benchmark for breast ultrasound image "
            "segmentation. Healthcare 10(4):729 (2022); Xian M, et al. arXiv:1801.03182"
        ),
        homepage="http://cvprip.cs.usu.edu/busbench/",
        request="request it with the signed agreement at http://cvprip.cs.usu.edu/busbench/",
    ),
    "udiat": Dataset(
        key="udiat",
        title="UDIAT Dataset B (breast ultrasound)",
        access="request-only",
        files=(),
        # 163 images; the class split is reported as found, not checked: the dataset paper says
        # 110 benign / 53 malignant, a circulating DatasetB.xlsx lists 109 / 54.
        counts={"images": 163},
        layout="original/000001.png, GT/000001.png (6 digits), DatasetB.xlsx (Image, Type)",
        licence="research use under a signed data-use agreement",
        licence_url="https://helward.mmu.ac.uk/STAFF/M.Yap/dataset.php",
        citation=(
            "Yap MH, Pons G, Marti J, et al. Automated breast ultrasound lesions detection using "
            "convolutional neural networks. IEEE JBHI 22(4):1218-1226 (2018)"
        ),
        homepage="https://helward.mmu.ac.uk/STAFF/M.Yap/dataset.php",
        request=(
            "request it with the signed agreement from Moi Hoon Yap, Manchester Metropolitan "
            "University (https://helward.mmu.ac.uk/STAFF/M.Yap/dataset.php)"
        ),
    ),
    "busbra": Dataset(
        key="busbra",
        title="BUS-BRA: a breast ultrasound dataset with BI-RADS categories",
        access="automatic",
        files=(
            RemoteFile(
                "BUSBRA.zip",
                "https://zenodo.org/records/8231412/files/BUSBRA.zip?download=1",
                "",  # no published hash: recorded on first download, content verified
            ),
        ),
        counts={"images": 1875},
        layout=(
            "Images/bus_<case>-<view>.png, Masks/mask_<case>-<view>.png, bus_data.csv with "
            "columns ID, Pathology (benign/malignant), Device (the scanner), ..."
        ),
        licence="CC BY 4.0",
        licence_url="https://creativecommons.org/licenses/by/4.0/",
        citation=(
            "Gomez-Flores W, Gregorio-Calas MJ, Coelho de Albuquerque Pereira W. BUS-BRA: a "
            "breast ultrasound dataset for assessing computer-aided diagnosis systems. Med Phys "
            "51(4):3110-3123 (2024). doi:10.1002/mp.16812; data doi:10.5281/zenodo.7730709"
        ),
        homepage="https://doi.org/10.5281/zenodo.7730709",
        request=(
            "download it from https://doi.org/10.5281/zenodo.7730709 and extract it, or give "
            "the archive's URL in datasets.urls"
        ),
    ),
    "ham10000": Dataset(
        key="ham10000",
        title="HAM10000 with the lesion segmentations of Tschandl et al.",
        access="automatic",
        files=(
            RemoteFile(
                "HAM10000_images_part_1.zip",
                f"{_DATAVERSE}/3172585",
                "md5:4639bfa73ab251610530a97c898e6e46",
            ),
            RemoteFile(
                "HAM10000_images_part_2.zip",
                f"{_DATAVERSE}/3172584",
                "md5:da43d6cc50f6613013be07e8986b384b",
            ),
            RemoteFile(
                "HAM10000_metadata.csv",
                f"{_DATAVERSE}/4338392?format=original",
                "sha256:de17ec44cb25ea9c3f6378ba18d69224c740afd62e86ec2edc6a894d6aa663d3",
                extract=False,
            ),
            RemoteFile(
                "HAM10000_segmentations_lesion_tschandl.zip",
                None,
                "sha256:d202bafd346e4ce16477575e871bc574528a8d044a0fbf654910ed49224bec7b",
            ),
        ),
        counts={"images": 10015, "lesions": 7470},
        layout=(
            "ISIC_<7 digits>.jpg (600x450 RGB) in two zips, masks "
            "ISIC_<id>_segmentation.png, HAM10000_metadata.csv with header "
            "lesion_id,image_id,dx,dx_type,age,sex,localization,dataset"
        ),
        licence="CC BY-NC 4.0",
        licence_url="https://creativecommons.org/licenses/by-nc/4.0/",
        citation=(
            "Tschandl P, Rosendahl C, Kittler H. The HAM10000 dataset, a large collection of "
            "multi-source dermatoscopic images of common pigmented skin lesions. Sci Data "
            "5:180161 (2018). doi:10.7910/DVN/DBW86T. Masks: Tschandl P, et al. Human-computer "
            "collaboration for skin cancer recognition. Nat Med 26:1229-1234 (2020)"
        ),
        homepage="https://doi.org/10.7910/DVN/DBW86T",
        request=(
            "the lesion masks have no stable direct URL: download "
            "HAM10000_segmentations_lesion_tschandl.zip from https://doi.org/10.7910/DVN/DBW86T "
            "or https://www.kaggle.com/datasets/tschandl/ham10000-lesion-segmentations and place "
            "it in the dataset folder, or give its URL in datasets.urls"
        ),
    ),
    "isic2018": Dataset(
        key="isic2018",
        title="ISIC 2018 Task 1: lesion boundary segmentation",
        access="automatic",
        files=tuple(
            RemoteFile(name, f"{_ISIC}/{name}", f"sha256:{digest}")
            for name, digest in (
                (
                    "ISIC2018_Task1-2_Training_Input.zip",
                    "80f98572347a2d7a376227fa9eb2e4f7459d317cb619865b8b9910c81446675f",
                ),
                (
                    "ISIC2018_Task1_Training_GroundTruth.zip",
                    "99f8b2bb3c4d6af483362010715f7e7d5d122d9f6c02cac0e0d15bef77c7604c",
                ),
                (
                    "ISIC2018_Task1-2_Validation_Input.zip",
                    "0ea920fcfe512d12a6e620b50b50233c059f67b10146e1479c82be58ff15a797",
                ),
                (
                    "ISIC2018_Task1_Validation_GroundTruth.zip",
                    "f6911e9c0a64e6d687dd3ca466ca927dd5e82145cb2163b7a1e5b37d7a716285",
                ),
                (
                    "ISIC2018_Task1-2_Test_Input.zip",
                    "e59ae1f69f4ed16f09db2cb1d76c2a828487b63d28f6ab85997f5616869b127d",
                ),
                (
                    "ISIC2018_Task1_Test_GroundTruth.zip",
                    "2e8f6edce454a5bdee52485e39f92bd6eddf357e81f39018d05512175238ef82",
                ),
            )
        ),
        counts={"images": 3694},
        layout="ISIC_<id>.jpg inputs and ISIC_<id>_segmentation.png masks; other files ignored",
        licence="CC BY-NC 4.0",
        licence_url="https://creativecommons.org/licenses/by-nc/4.0/",
        citation=(
            "Codella N, et al. Skin lesion analysis toward melanoma detection 2018: a challenge "
            "hosted by the ISIC. arXiv:1902.03368; Tschandl P, et al. Sci Data 5:180161 (2018)"
        ),
        homepage="https://challenge.isic-archive.com/data/#2018",
    ),
    "retouch": Dataset(
        key="retouch",
        title="RETOUCH: retinal OCT fluid detection and segmentation (MICCAI 2017), training set",
        access="request-only",
        files=(),
        counts={"cirrus": 24, "spectralis": 24, "topcon": 22},
        layout=(
            "RETOUCH-TrainingSet-{Cirrus,Spectralis,Topcon}/TRAIN<nnn>/ (Cirrus 001-024, "
            "Spectralis 025-048, Topcon 049-070), each with oct.mhd + oct.raw and reference.mhd + "
            "reference.raw (labels 0 background, 1 IRF, 2 SRF, 3 PED)"
        ),
        licence="research use under the challenge's data-use terms (registration required)",
        licence_url="https://retouch.grand-challenge.org/",
        citation=(
            "Bogunovic H, Venhuizen F, Klimscha S, et al. RETOUCH: the retinal OCT fluid "
            "detection and segmentation benchmark and challenge. IEEE TMI 38(8):1858-1874 (2019). "
            "doi:10.1109/TMI.2019.2901398"
        ),
        homepage="https://retouch.grand-challenge.org/",
        request=(
            "register at https://retouch.grand-challenge.org/, accept its data-use agreement and "
            "download the training set; unpack the three RETOUCH-TrainingSet-<vendor> folders "
            "into one folder"
        ),
    ),
}


def get_dataset(key: str) -> Dataset:
    """Registry entry of ``key``; ValueError naming the known keys otherwise."""
    if key not in REGISTRY:
        raise ValueError(f"unknown dataset {key!r}; known datasets: {sorted(REGISTRY)}")
    return REGISTRY[key]
