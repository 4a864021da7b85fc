import logging

from station.logs import log_to_file


def test_log_goes_to_a_file_beside_the_database(tmp_path):
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        path = log_to_file(tmp_path / "db" / "station.db")
        logging.getLogger("station.test").warning("printer out of paper")
        for h in root.handlers:
            h.flush()
        assert path == (tmp_path / "db" / "station.log").resolve()
        assert "printer out of paper" in path.read_text()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
