"""Check the built site in a real browser: Debian's chromium, headless, driven by selenium.

    python docs/tools/check_site.py docs/_build/html screenshots/

Serves the built site over HTTP on localhost, then checks that every page
renders (its title and main content), that the search page finds
"MLPClassifier", and that every gallery image loaded (a natural width > 0);
a screenshot of each checked page goes to the second folder. Needs
``apt-get install chromium chromium-driver`` and ``pip install selenium``
(the browser and its driver from the system: selenium downloads nothing).
Exits non-zero naming what failed.
"""

import functools
import http.server
import pathlib
import sys
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
PAGES = ["index.html", "getting-started.html", "from-sklearn.html", "user-guide.html",
         "usage.html", "command.html", "model-files.html", "guide.html", "backprop.html",
         "performance.html", "api.html", "generated/fastbp.MLPClassifier.html",
         "auto_examples/index.html", "auto_examples/plot_activations.html",
         "auto_examples/plot_graph_trace.html", "auto_examples/plot_onnx.html"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(root):
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def main(site, shots):
    shots.mkdir(parents=True, exist_ok=True)
    server, base = _serve(site)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    failures = []
    try:
        for page in PAGES:
            driver.get(base + page)
            WebDriverWait(driver, 20).until(
                expected_conditions.presence_of_element_located((By.TAG_NAME, "main")))
            title = driver.title
            text = driver.find_element(By.TAG_NAME, "main").text
            if "404" in title or len(text) < 200:
                failures.append(f"{page}: title {title!r}, {len(text)} characters of content")
            broken = driver.execute_script(
                "return Array.from(document.images).filter(i => i.src.includes('_images') "
                "|| i.src.includes('sphx_glr')).filter(i => !(i.complete && i.naturalWidth > 0))"
                ".map(i => i.src)")
            images = driver.execute_script("return document.images.length")
            if broken:
                failures.append(f"{page}: images not loaded: {broken}")
            driver.save_screenshot(str(shots / (page.replace("/", "_") + ".png")))
            print(f"ok   {page}: {title!r}, {len(text)} characters, {images} images")
        driver.get(base + "search.html?q=MLPClassifier")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(
            By.CSS_SELECTOR, "#search-results ul.search li"))
        hits = driver.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
        driver.save_screenshot(str(shots / "search.png"))
        names = [hit.text.splitlines()[0] for hit in hits[:5]]
        print(f"ok   search 'MLPClassifier': {len(hits)} results, first {names}")
        if not any("MLPClassifier" in hit.text for hit in hits):
            failures.append("search: no result names MLPClassifier")
    finally:
        driver.quit()
        server.shutdown()
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])))
