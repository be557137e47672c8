#!/usr/bin/python3
"""The web page's admin pages and teams in headless Chromium (web.sh).

A member of team a sees the tunnel that team a's admin shared and not
the one team b's admin shared, gets no admin link and a 403 on /admin;
the organisation's admin signs in, opens the accounts page from its
link, adds a team and a member to a team with the forms (the new key
shown once), and a team name with markup is refused, shown as text.
Screenshots go to --shots.  Exit 0 when every check held; a line
"FAIL: ..." and 1 otherwise.
"""
import argparse
import os
import re
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from webdrv import Fail, chrome, wait  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--admin", required=True)
ap.add_argument("--admin-key", required=True)
ap.add_argument("--member", required=True)
ap.add_argument("--member-key", required=True)
ap.add_argument("--team-a-tunnel", required=True)
ap.add_argument("--team-b-tunnel", required=True)
ap.add_argument("--shots", required=True)
ap.add_argument("--profile", required=True)
args = ap.parse_args()


def say(msg):
    print("webadmin.py: " + msg, flush=True)


def shot(name):
    d.save_screenshot(os.path.join(args.shots, name + ".png"))


def signin(user, key):
    d.delete_all_cookies()
    d.get(args.url + "/signin")
    wait(lambda: d.find_element(By.ID, "user"), 10, "the sign-in form")
    d.find_element(By.ID, "user").send_keys(user)
    k = d.find_element(By.ID, "key")
    k.send_keys(key)
    k.send_keys(Keys.ENTER)
    wait(lambda: d.find_element(By.TAG_NAME, "h1").text == "Tunnels", 10,
         "the tunnels page of " + user)


def tunnel_ids():
    return [r.get_attribute("data-id") for r in
            d.find_elements(By.CSS_SELECTOR, "#tunnels tr[data-id]")]


def account_rows():
    return {r.find_element(By.CSS_SELECTOR, "td.name").text:
            (r.find_element(By.CSS_SELECTOR, "td.team").text,
             r.find_element(By.CSS_SELECTOR, "td.role").text)
            for r in d.find_elements(By.CSS_SELECTOR, "#accounts tbody tr")}


def team_rows():
    return [r.find_element(By.CSS_SELECTOR, "td.name").text
            for r in d.find_elements(By.CSS_SELECTOR, "#teams tbody tr")]


d = chrome(args.profile)
status = 0
try:
    # a member of team a: team a's shared tunnel, not team b's
    signin(args.member, args.member_key)
    ids = wait(tunnel_ids, 10, "the member's tunnels listed")
    if args.team_a_tunnel not in ids:
        raise Fail("the member does not see team a's tunnel: %r" % ids)
    if args.team_b_tunnel in ids:
        raise Fail("the member sees team b's tunnel: %r" % ids)
    if d.find_elements(By.ID, "admin"):
        raise Fail("a member gets the admin link")
    shot("10-member-team-a")
    d.get(args.url + "/tunnel/" + args.team_b_tunnel)
    if "No such tunnel." not in d.find_element(By.TAG_NAME, "main").text:
        raise Fail("the member opens team b's tunnel")
    d.get(args.url + "/admin")
    if d.find_element(By.TAG_NAME, "h1").text != "Forbidden":
        raise Fail("a member opens /admin: %r" %
                   d.find_element(By.TAG_NAME, "h1").text)
    shot("11-member-admin-403")
    say("ok: the member sees team a's tunnel, not team b's; no admin link, "
        "/admin forbidden")

    # the organisation's admin: the accounts page from its link
    signin(args.admin, args.admin_key)
    d.find_element(By.ID, "admin").click()
    wait(lambda: d.find_element(By.ID, "accounts"), 10, "the accounts page")
    before = account_rows()
    if before.get(args.member) != ("a", "member"):
        raise Fail("the member's row: %r" % before.get(args.member))
    shot("12-admin-accounts")

    # a team, with the form
    f = d.find_element(By.ID, "add-team")
    f.find_element(By.NAME, "name").send_keys("qa")
    f.find_element(By.CSS_SELECTOR, "button").click()
    wait(lambda: "qa" in team_rows(), 10, "team qa listed")

    # a member of team qa, with the form: its key shown once
    f = d.find_element(By.ID, "add-account")
    f.find_element(By.NAME, "name").send_keys("newbie")
    Select(d.find_element(By.ID, "new-team")).select_by_value("qa")
    Select(d.find_element(By.ID, "new-role")).select_by_value("member")
    f.find_element(By.CSS_SELECTOR, "button").click()
    key = wait(lambda: d.find_element(By.ID, "new-key").text, 10,
               "the new account's key")
    if not re.fullmatch(r"[0-9a-f-]{36}", key):
        raise Fail("the key shown: %r" % key)
    shot("13-admin-new-key")
    d.find_element(By.LINK_TEXT, "Back to the accounts").click()
    rows = wait(lambda: "newbie" in account_rows() and account_rows(), 10,
                "newbie listed")
    if rows["newbie"] != ("qa", "member"):
        raise Fail("newbie's row: %r" % (rows["newbie"],))
    if key in d.page_source:
        raise Fail("the key is shown again")
    say("ok: the admin added team qa and newbie to it (its key shown once)")

    # a team name with markup: refused, and shown as nothing but text
    f = d.find_element(By.ID, "add-team")
    f.find_element(By.NAME, "name").send_keys("<b id=bold>x</b>")
    f.find_element(By.CSS_SELECTOR, "button").click()
    wait(lambda: d.find_element(By.TAG_NAME, "h1").text == "Not done", 10,
         "the refusal of a team name with markup")
    if d.find_elements(By.CSS_SELECTOR, "main b, #bold"):
        raise Fail("markup from a team name became an element")
    shot("14-admin-markup-refused")
    d.get(args.url + "/admin")
    if any("<" in t for t in team_rows()):
        raise Fail("a team with markup was added: %r" % team_rows())
    d.find_element(By.LINK_TEXT, "Recent events").click()
    wait(lambda: d.find_element(By.ID, "org-events"), 10, "the events page")
    if "tunnel-created" not in d.find_element(By.ID, "org-events").text:
        raise Fail("no tunnel-created event on the events page")
    shot("15-admin-events")
    say("ok: a team name with markup refused; the organisation's events")
except Exception as e:  # a Fail, or a page that is not there
    print("FAIL: webadmin.py: %s" % e, flush=True)
    try:
        shot("admin-failed")
    except Exception:
        pass
    status = 1
finally:
    d.quit()
sys.exit(status)
