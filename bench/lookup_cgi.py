#!/usr/bin/python3
# bench/lookup_cgi.py - the short-link lookup as a CGI script.
#
# Run by mod_cgid for GET /cgi/<slug> (bench/run.sh): opens the SQLite file
# named by "SetEnv BENCH_DB" on every request, as a CGI program must, and
# answers 302 to the stored URL, or 404.
import os
import sqlite3

slug = os.environ.get("PATH_INFO", "").lstrip("/")
db = sqlite3.connect(os.environ["BENCH_DB"])
row = db.execute("SELECT url FROM links WHERE slug = ?", (slug,)).fetchone()
db.close()
if row is None:
    print("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n"
          "No such short link.", end="")
else:
    print("Status: 302 Found\r\nLocation: %s\r\n\r\n" % row[0], end="")
