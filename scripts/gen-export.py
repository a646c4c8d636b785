#!/usr/bin/env python3
"""Writes a deterministic HR export of N rows for `orgform import` benchmarks.

    scripts/gen-export.py ROWS OUT.csv

The columns are those of examples/hr-import/export.csv (read with its
mapping.yaml, the `alexis` preset with Swedish national numbers). Invented
people at example.com; 97% active; 8 organisations, 40 offices, 400
departments, 2,000 teams (0-2 per row), 3 employment types. Same ROWS, same
bytes: no randomness but a fixed linear congruential sequence.
"""
import csv
import sys

FIRST = ["Astrid", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kaia", "Liam", "Maja", "Nils", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tove"]
LAST = ["Lindqvist", "Marchetti", "Rossi", "Volkov", "Berg", "Nakamura", "Okafor", "Silva",
        "Novak", "Hansen", "Moreau", "Kowalski", "Ferreira", "Jensen", "Ortiz", "Larsen"]
ZONES = [("Europe/Stockholm", "Stockholm", "Sweden"), ("America/New_York", "New York", "United States"),
         ("Europe/Berlin", "Berlin", "Germany"), ("Asia/Tokyo", "Tokyo", "Japan")]
GENDERS = ["Female", "Male", "Non-binary", "Not specified"]
TYPES = [("Permanent employment", 5001), ("Temporary employment", 5002), ("Consultant", 5003)]


def main():
    rows, out = int(sys.argv[1]), sys.argv[2]
    x = 12345
    with open(out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Employee ID", "First name", "Last name", "Work email", "Work phone", "Time zone",
                    "Role", "Status", "Organization", "Organization ID", "Office", "Office ID",
                    "Department", "Department ID", "Teams", "Employment type", "Employment type ID",
                    "City", "Country", "Legal gender", "Employment date"])
        for i in range(rows):
            x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            r = x >> 16
            first, last = FIRST[r % 20], LAST[(r >> 5) % 16]
            zone, city, country = ZONES[(r >> 9) % 4]
            org = (r >> 11) % 8
            office = org * 5 + (r >> 14) % 5
            dept = office * 10 + (r >> 17) % 10
            teams = [f"Team {dept * 5 + (r >> 21) % 5}"] if (r >> 24) % 3 else []
            if (r >> 26) % 4 == 0:
                teams.append(f"Team {dept * 5 + (r >> 28) % 5}")
            teams = sorted(set(teams))
            kind, kind_id = TYPES[0] if (r >> 30) % 10 < 8 else TYPES[1 + (r >> 34) % 2]
            role = "Owner" if i < 2 else ("Manager" if (r >> 35) % 16 == 0 else "Employee")
            status = "Inactive" if (r >> 39) % 100 < 3 else "Active"
            phone = f"070-{i // 10000 % 1000:03d} {i // 100 % 100:02d} {i % 100:02d}" if (r >> 42) % 20 else ""
            w.writerow([f"E{100000 + i}", first, last, f"{first.lower()}.{last.lower()}.{i}@example.com",
                        phone, zone, role, status, f"Org {org}", 1000 + org, f"Office {office}",
                        2000 + office, f"Department {dept}", 3000 + dept, ", ".join(teams), kind, kind_id,
                        city, country, GENDERS[(r >> 45) % 4],
                        f"{2000 + (r >> 47) % 25}-{1 + (r >> 52) % 12:02d}-{1 + (r >> 56) % 28:02d}"])


if __name__ == "__main__":
    main()
