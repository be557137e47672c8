#!/usr/bin/python3
"""The Tunnels web page in headless Chromium, driven by Selenium (web.sh).

Steps meet the shell through files in --dir: this script writes
step-NAME when it reaches NAME, and the shell answers go-NAME.
Screenshots go to --shots.  Exit 0 when every check held; a line
"FAIL: ..." and 1 otherwise.
"""
import argparse
import os
import sys
import time

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdrv import Fail, chrome, wait  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--other", required=True)
ap.add_argument("--other-key", required=True)
ap.add_argument("--name", required=True, help="the client's tunnel name")
ap.add_argument("--markup", required=True)
ap.add_argument("--markup-id", required=True)
ap.add_argument("--long-id", required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--shots", required=True)
ap.add_argument("--profile", required=True)
args = ap.parse_args()


def say(msg):
    print("web.py: " + msg, flush=True)


def step(name):
    open(os.path.join(args.dir, "step-" + name), "w").close()
    say("step " + name)


def go(name, secs):
    wait(lambda: os.path.exists(os.path.join(args.dir, "go-" + name)), secs,
         "the shell's go-" + name)


def shot(name):
    d.save_screenshot(os.path.join(args.shots, name + ".png"))


def row(tid):
    return d.find_element(By.CSS_SELECTOR, '#tunnels tr[data-id="%s"]' % tid)


def cell(tid, key):
    return row(tid).find_element(By.CSS_SELECTOR, '[data-f="%s"]' % key).text


def no_alert():
    try:
        d.switch_to.alert
    except NoAlertPresentException:
        return True
    raise Fail("a script from a tunnel name ran (an alert is open)")


def console_clean(where):
    """No error in the console: nothing blocked by the Content Security
    Policy (an inline script or style would be), no script error.  The
    favicon, which the server does not have, may be missing."""
    bad = [e["message"] for e in d.get_log("browser")
           if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    if bad:
        raise Fail("console errors on %s: %r" % (where, bad))


def signin(user, key):
    d.get(args.url + "/signin")
    wait(lambda: d.find_element(By.ID, "user"), 10, "the sign-in form")
    u = d.find_element(By.ID, "user")
    u.clear()
    u.send_keys(user)
    k = d.find_element(By.ID, "key")
    k.send_keys(key)
    # from the keyboard: Enter in the key's field sends the form
    k.send_keys(Keys.ENTER)


d = chrome(args.profile, logs=True)
status = 0
try:
    # a wrong key first: the error is shown, no session
    d.get(args.url + "/")
    wait(lambda: d.current_url.endswith("/signin"), 10,
         "/ without a session leads to /signin")
    signin(args.user, args.key + "-wrong")
    err = wait(lambda: d.find_element(By.ID, "error").text, 10,
               "an error for a wrong key")
    if err != "Wrong account name or access key.":
        raise Fail("the error shown: %r" % err)
    if d.get_cookie("sc_session") is not None:
        raise Fail("a session cookie for a wrong key")
    shot("01-wrong-key")
    d.get_log("browser")    # its 401, expected
    say("ok: a wrong key: %r" % err)

    signin(args.user, args.key)
    wait(lambda: d.find_element(By.TAG_NAME, "h1").text == "Tunnels", 10,
         "the tunnels page after the sign-in")
    c = d.get_cookie("sc_session")
    if not c or not c.get("httpOnly") or c.get("sameSite") != "Strict":
        raise Fail("the session cookie: %r" % c)
    say("ok: signed in, the cookie HttpOnly and SameSite=Strict")

    # hostile names: escaped, whole, and the page stays usable
    wait(lambda: row(args.markup_id), 10, "the tunnel with markup listed")
    if cell(args.markup_id, "name") != args.markup:
        raise Fail("the markup name shows as %r" % cell(args.markup_id, "name"))
    bad = d.find_elements(By.CSS_SELECTOR, "#tunnels img, #tunnels b, "
                          "#tunnels script")
    if bad:
        raise Fail("markup from a name became %d elements" % len(bad))
    no_alert()
    if len(cell(args.long_id, "name")) != 1000:
        raise Fail("the long name shows %d characters"
                   % len(cell(args.long_id, "name")))
    say("ok: a name with markup shows as text, a 1,000-character one whole")
    d.execute_script("window.scMarker = 42")
    shot("02-signed-in")
    step("signed-in")

    # the client starts: its tunnel appears without a reload
    tid = wait(lambda: [r.get_attribute("data-id") for r in
                        d.find_elements(By.CSS_SELECTOR, "#tunnels tr[data-id]")
                        if r.find_element(By.CSS_SELECTOR,
                                          '[data-f="name"]').text == args.name],
               60, "the client's tunnel appears")[0]
    wait(lambda: cell(tid, "connections").startswith(("1 up", "2 up", "3 up",
                                                      "4 up")), 30,
         "its connections up, with a round trip")
    if d.execute_script("return window.scMarker") != 42:
        raise Fail("the page was reloaded")
    shot("03-tunnel-appears")
    say("ok: tunnel %s appeared without a reload: %s" %
        (tid, cell(tid, "connections")))

    # traffic flows (the shell pulls it): the counters move
    go("traffic", 60)
    first = wait(lambda: cell(tid, "down") not in ("", "0 B") and
                 cell(tid, "down"), 30, "bytes down counted")
    second = wait(lambda: cell(tid, "down") != first and cell(tid, "down"),
                  30, "bytes down moving (still %r)" % first)
    third = wait(lambda: cell(tid, "down") != second and cell(tid, "down"),
                 30, "bytes down moving on (still %r)" % second)
    if d.execute_script("return window.scMarker") != 42:
        raise Fail("the page was reloaded")
    console_clean("the tunnels page")
    shot("04-counters-move")
    say("ok: bytes down %s -> %s -> %s, bytes up %s" %
        (first, second, third, cell(tid, "up")))
    step("counted")

    # 360 px wide: nothing wider than the screen
    d.set_window_size(360, 800)
    wait(lambda: d.execute_script("return window.innerWidth") <= 400, 10,
         "the window at 360 px")
    wide = d.execute_script("return [document.documentElement.scrollWidth,"
                            " window.innerWidth]")
    if wide[0] > wide[1] + 1:
        raise Fail("at 360 px the page is %d px wide for %d" % tuple(wide))
    if not row(tid).find_element(By.TAG_NAME, "a").is_displayed():
        raise Fail("at 360 px the tunnel's link is hidden")
    shot("05-narrow-360px")
    say("ok: at 360 px, %d px wide in %d" % tuple(wide))
    d.set_window_size(1280, 900)

    # one tunnel: its connections, events, the masked command line
    row(tid).find_element(By.TAG_NAME, "a").click()
    wait(lambda: d.find_element(By.CSS_SELECTOR, "h1 [data-f=name]").text
         == args.name, 10, "the tunnel's page")
    wait(lambda: len(d.find_elements(By.CSS_SELECTOR,
                                     "#links tr[data-id]")) >= 1, 10,
         "its connections listed")
    if args.key in d.page_source:
        raise Fail("the access key is in the tunnel's page")
    events = d.find_element(By.ID, "events").text
    if "created by" not in events:
        raise Fail("no 'created by' event: %r" % events)
    shot("06-tunnel-page")
    say("ok: the tunnel's page: %d connections, events listed" %
        len(d.find_elements(By.CSS_SELECTOR, "#links tr[data-id]")))

    # stop it from the keyboard: Tab to the button, Enter
    d.find_element(By.TAG_NAME, "body").click()
    for _ in range(60):
        ActionChains(d).send_keys(Keys.TAB).perform()
        if d.switch_to.active_element.get_attribute("id") == "stop":
            break
    else:
        raise Fail("the stop button cannot be reached with Tab")
    d.switch_to.active_element.send_keys(Keys.ENTER)
    wait(lambda: d.find_element(By.CSS_SELECTOR, "dd[data-f=status]").text
         in ("halting", "terminated"), 10, "the tunnel stopping")
    step("stopped")
    wait(lambda: d.find_element(By.CSS_SELECTOR, "dd[data-f=status]").text
         == "terminated", 30, "the tunnel terminated")
    wait(lambda: not d.find_elements(By.ID, "stop"), 10,
         "the stop button gone")
    down = d.find_element(By.CSS_SELECTOR, "dd[data-f=down]").text
    if down in ("", "0 B"):
        raise Fail("the stopped tunnel shows bytes down %r" % down)
    console_clean("the tunnel's page")
    shot("07-stopped")
    say("ok: stopped from the keyboard: terminated, %s down in all" % down)

    # another account sees none of the first one's unshared tunnels
    d.delete_all_cookies()
    signin(args.other, args.other_key)
    wait(lambda: d.find_element(By.TAG_NAME, "h1").text == "Tunnels", 10,
         "the other account's tunnels page")
    ids = [r.get_attribute("data-id") for r in
           d.find_elements(By.CSS_SELECTOR, "#tunnels tr[data-id]")]
    if args.markup_id in ids or args.long_id in ids:
        raise Fail("%s sees %s's tunnels: %r" % (args.other, args.user, ids))
    if not d.find_element(By.ID, "empty").is_displayed():
        raise Fail("no 'No tunnels running.' for %s" % args.other)
    shot("08-other-account")
    d.get(args.url + "/tunnel/" + args.markup_id)
    if "No such tunnel." not in d.find_element(By.TAG_NAME, "main").text:
        raise Fail("%s opens %s's tunnel" % (args.other, args.user))
    say("ok: %s sees none of %s's tunnels, and cannot open one" %
        (args.other, args.user))
except Fail as e:
    print("FAIL: web.py: %s" % e, flush=True)
    try:
        shot("failed")
    except Exception:
        pass
    status = 1
finally:
    d.quit()
sys.exit(status)
