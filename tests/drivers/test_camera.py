"""Cameras: the folder camera against files written by another thread, the emulator camera,
and the OpenCV camera's handling with OpenCV's capture replaced (no /dev/video here)."""

from __future__ import annotations

import io
import sys
import threading
import time
from datetime import UTC, datetime

import pytest
from PIL import Image

from drivers.camera import Photo
from drivers.camera_folder import FolderCamera
from drivers.camera_v4l2 import V4l2Camera
from drivers.emulators.camera import EmulatorCamera
from drivers.errors import BadDeviceURL, BadFrame, DeviceUnreachable
from drivers.urls import open_camera


def jpeg(width: int = 320, height: int = 240, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="JPEG")
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        return img.size


# -- folder -------------------------------------------------------------------------------


def test_folder_camera_picks_up_a_dropped_file(tmp_path):
    (tmp_path / "old.jpg").write_bytes(jpeg(10, 10))  # there before: not the photo
    camera = FolderCamera(tmp_path, settle=0.1)
    data = jpeg(320, 240)
    threading.Timer(0.15, (tmp_path / "IMG_0001.JPG").write_bytes, [data]).start()
    photo = camera.capture(timeout=3)
    assert photo.jpeg == data and (photo.width, photo.height) == (320, 240)
    assert abs((datetime.now(UTC) - photo.taken_at).total_seconds()) < 5


def test_folder_camera_returns_the_newest_and_each_file_once(tmp_path):
    camera = FolderCamera(tmp_path, settle=0.05)
    (tmp_path / "a.jpg").write_bytes(jpeg(10, 10))
    time.sleep(0.02)
    (tmp_path / "b.jpg").write_bytes(jpeg(20, 20))
    assert camera.capture(timeout=2).width == 20
    assert camera.capture(timeout=2).width == 10  # the next newest not yet taken
    with pytest.raises(DeviceUnreachable, match="No new picture"):
        camera.capture(timeout=0.2)


def test_folder_camera_waits_for_a_half_written_file(tmp_path):
    camera = FolderCamera(tmp_path, settle=0.15)
    data = jpeg(640, 480)
    target = tmp_path / "slow.jpg"
    f = open(target, "wb")  # noqa: SIM115 - kept open across the writer thread on purpose
    f.write(data[: len(data) // 2])
    f.flush()

    def finish() -> None:
        time.sleep(0.4)  # longer than `settle`: a size that stood still is not enough
        f.write(data[len(data) // 2 :])
        f.close()

    threading.Thread(target=finish).start()
    start = time.monotonic()
    photo = camera.capture(timeout=5)
    assert photo.jpeg == data and time.monotonic() - start >= 0.4


def test_folder_camera_ignores_temp_names_and_other_files(tmp_path):
    camera = FolderCamera(tmp_path, settle=0.05)
    (tmp_path / ".IMG_2.jpg").write_bytes(jpeg())
    (tmp_path / "IMG_2.jpg.part").write_bytes(jpeg())
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DeviceUnreachable):
        camera.capture(timeout=0.2)


def test_folder_camera_converts_png(tmp_path):
    camera = FolderCamera(tmp_path, settle=0.05)
    Image.new("RGB", (50, 40), "blue").save(tmp_path / "shot.png")
    photo = camera.capture(timeout=2)
    assert size_of(photo.jpeg) == (50, 40)


def test_folder_camera_unreadable_file_is_bad_frame(tmp_path):
    camera = FolderCamera(tmp_path, settle=0.02)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(BadFrame, match="broken.jpg"):
        camera.capture(timeout=0.3)


def test_missing_folder_is_unreachable(tmp_path):
    with pytest.raises(DeviceUnreachable, match="camera folder"):
        FolderCamera(tmp_path / "nope").capture(timeout=0.1)


# -- emulator -----------------------------------------------------------------------------


def test_emulator_camera_makes_distinct_jpegs():
    camera = open_camera("emulator://camera?width=320&height=200")
    assert isinstance(camera, EmulatorCamera)
    first, second = camera.capture(), camera.capture()
    assert size_of(first.jpeg) == (320, 200) == (first.width, first.height)
    assert first.jpeg != second.jpeg and first.taken_at <= second.taken_at


# -- OpenCV (v4l2) ------------------------------------------------------------------------


def test_v4l2_camera_encodes_a_fresh_frame(monkeypatch):
    cv2 = pytest.importorskip("cv2", reason="webcams need opencv-python-headless")
    np = pytest.importorskip("numpy")

    class FakeCapture:
        """Stands in for cv2.VideoCapture on a camera that has 1280x720 frames."""

        def __init__(self, device, api):
            self.device, self.api, self.props, self.grabs = device, api, {}, 0

        def isOpened(self):  # noqa: N802 - OpenCV's name
            return True

        def set(self, prop, value):
            self.props[prop] = value

        def grab(self):
            self.grabs += 1
            return True

        def read(self):
            return True, np.full((720, 1280, 3), 90, dtype=np.uint8)

        def release(self):
            pass

    made = []
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: made.append(FakeCapture(*a)) or made[-1])
    camera = open_camera("v4l2:///dev/video0?width=1280&height=720")
    assert isinstance(camera, V4l2Camera)
    photo = camera.capture()
    cap = made[0]
    assert cap.device == "/dev/video0" and cap.api == cv2.CAP_V4L2
    assert cap.props == {cv2.CAP_PROP_FRAME_WIDTH: 1280, cv2.CAP_PROP_FRAME_HEIGHT: 720}
    assert cap.grabs == camera.warmup + camera.stale  # warm-up and stale frames skipped
    assert size_of(photo.jpeg) == (1280, 720) == (photo.width, photo.height)
    camera.close()


def test_v4l2_missing_camera_is_unreachable():
    pytest.importorskip("cv2", reason="webcams need opencv-python-headless")
    with pytest.raises(DeviceUnreachable, match="Cannot open camera /dev/video97"):
        V4l2Camera("/dev/video97").capture()


def test_v4l2_without_opencv_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(DeviceUnreachable, match="pip install opencv-python-headless"):
        V4l2Camera("/dev/video0").capture()


def test_camera_urls():
    assert open_camera("v4l2://0").device == 0
    assert open_camera("folder:///srv/drop?settle=1").settle == 1.0
    with pytest.raises(BadDeviceURL, match="unknown scheme 'http'"):
        open_camera("http://cam/snapshot.jpg")


def test_photo_from_truncated_bytes_is_bad_frame():
    with pytest.raises(BadFrame):
        Photo.from_image_bytes(jpeg()[:200])
