import threading, time
def test_zz_no_leftover_threads():
    time.sleep(0.5)
    names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    print(names)
    assert not names, names
