"""What web.py and webadmin.py share: headless Chromium driven by
Selenium, waiting for a condition, the failure that ends a check."""
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


class Fail(Exception):
    pass


def wait(cond, secs, what):
    """cond()'s first true value within secs, else Fail naming what."""
    end = time.monotonic() + secs
    last = None
    while time.monotonic() < end:
        try:
            v = cond()
            if v:
                return v
        except Exception as e:      # a page between two states
            last = e
        time.sleep(0.2)
    raise Fail("%s (within %d s)%s" % (what, secs,
                                       ": %r" % last if last else ""))


def chrome(profile, logs=False):
    """Headless Chromium with its own profile, 1280x900, no proxy; its
    console kept when logs."""
    opts = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--no-first-run", "--window-size=1280,900",
              "--user-data-dir=" + profile, "--disable-extensions",
              "--no-proxy-server"):
        opts.add_argument(a)
    if logs:
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                         options=opts)
    d.set_page_load_timeout(20)
    return d
