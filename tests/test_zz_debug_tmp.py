import time
from pathlib import Path
from tests.test_scale import FeedServer, rss, worker, write


def test_dbg(tmp_path: Path, pg_url: str) -> None:
    with FeedServer(latency=0.02) as server:
        urls = [server.add(f"/f{i}.xml", rss(i)) for i in range(20)]
        config = write(tmp_path / "c.yaml", {
            "database": pg_url, "output_dir": str(tmp_path / "out"),
            "feeds": [{"url": u} for u in urls],
            "schedule": {"poll_interval_seconds": 6.0}, "lease_seconds": 30,
        })
        proc = worker(config, "w0")
        time.sleep(25)
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        print("COUNT", [server.count(f"/f{i}.xml") for i in range(20)])
        print("ERR", err[-3000:])
        print("OUT", out[-1000:])
