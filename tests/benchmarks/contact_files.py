"""A realistic messy contact file, as a shop's export or a hand-kept spreadsheet really is."""

import random

AREA_CODES = (
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 229 231 "
    "234 239 240 248 251 252 253 254 256 260 262 267 269 270 272 276 281 301 302 303 304 305 "
    "307 308 309 310 312 313 314 315 316 317 318 319 320 321 323 325 330 331 334 336 337 339 "
    "346 347 351 352 360 361 385 386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 "
    "419 423 424 425 430 432 434 435 440 442 443 458 469 470 475 478 479 480 484 501 502 503 "
    "504 505 507 508 509 510 512 513 515 516 517 518 520 530 540 541 551 559 561 562 563 567 "
    "570 571 573 574 575 580 585 586 601 602 603 605 606 607 608 609 610 612 614 615 616 617 "
    "618 619 620 623 626 630 631 636 641 646 650 651 657 660 661 662 678 681 682 701 702 703 "
    "704 706 707 708 712 713 714 715 716 717 718 719 720 724 725 727 731 732 734 737 740 747 "
    "754 757 760 762 763 765 769 770 772 773 774 775 779 781 785 786 801 802 803 804 805 806 "
    "808 810 812 813 814 815 816 817 818 828 830 831 832 843 845 847 848 850 856 857 858 859 "
    "860 862 863 864 865 870 872 878 901 903 904 906 907 908 909 910 912 913 914 915 916 917 "
    "918 919 920 925 928 929 931 936 937 940 941 947 949 951 952 954 956 959 970 971 972 973 "
    "978 979 980 984 985 989"
).split()
FIRST_NAMES = (
    "Ada Ben Carla Dmitri Élodie Farah Gus Hana Ivan José Kai Léa Mia Noor Óscar Priya Quinn "
    "Rosa Søren Tomás Uma Vera Wen Xavier Yusuf Zoë Anne-Marie Jean-Luc Chloé Renée"
).split()
LAST_NAMES = (
    "Smith Díaz Nguyen O'Brien Müller Kowalski García Rossi Dubois Novák Jensen Tanaka Silva "
    "Schmidt Johansson Martínez Brown Wilson Fernández López"
).split()
TAGS = ("vip", "walk-in", "summer sale", "newsletter", "wholesale", "Loyalty", "VIP ")
FORMATS = (
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "+1 {a} {b} {c}",
    "1-{a}-{b}-{c}",
    "{a}.{b}.{c}",
    "{a}{b}{c}",
    " {a} {b} {c} ",
    "+1 ({a}) {b}-{c}",
)
HEADER = ["Phone Number", "First Name", "Last Name", "E-mail", "Tags", "Birthday", "Notes"]


def _cell(text: str) -> str:
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_messy_csv(path, rows: int, seed: int = 2026) -> dict:
    """Write ``rows`` data rows (UTF-8 with BOM, CRLF, quoted fields, stray spaces, blank lines,
    ~1% duplicates and ~0.5% unusable numbers, a few formulas and tags in names) and return what
    went in."""
    rng = random.Random(seed)
    used = set()
    numbers = []
    stats = {"rows": rows, "duplicates": 0, "invalid": 0, "blank_lines": 0}
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        out.write(",".join(HEADER) + "\r\n")
        for index in range(rows):
            roll = rng.random()
            if roll < 0.01 and numbers:
                raw = rng.choice(numbers)
                stats["duplicates"] += 1
            elif roll < 0.015:
                raw = rng.choice(("555-0143", "n/a", "call me", "+1 (555) 12", "000-000-0000"))
                stats["invalid"] += 1
            else:
                while True:
                    digits = (rng.choice(AREA_CODES), rng.randint(201, 999), rng.randint(0, 9999))
                    if digits not in used:
                        used.add(digits)
                        break
                raw = rng.choice(FORMATS).format(a=digits[0], b=digits[1], c=f"{digits[2]:04d}")
                numbers.append(raw)
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            if index % 997 == 0:
                first = '=HYPERLINK("http://example.com","click")'
            elif index % 1009 == 0:
                first = "<script>alert(1)</script>"
            email = f"{first.lower()}.{last.lower()}{index}@example.com" if roll < 0.7 else ""
            tags = ", ".join(rng.sample(TAGS, rng.randint(0, 2)))
            birthday = (
                f"{rng.randint(1950, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            )
            notes = 'Met at the spring fair, wants news about "sales"' if roll > 0.97 else ""
            cells = [raw, f" {first}" if roll > 0.9 else first, last, email, tags, birthday, notes]
            out.write(",".join(_cell(cell) for cell in cells) + "\r\n")
            if index % 5000 == 4999:
                out.write("\r\n")
                stats["blank_lines"] += 1
    return stats
