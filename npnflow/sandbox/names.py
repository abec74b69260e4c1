"""Word lists the generator draws from. All names are invented combinations; contact details
use reserved ranges (555 phone numbers, example.* email domains)."""

from __future__ import annotations


def _words(text: str, separator: str | None = None) -> tuple[str, ...]:
    """A word list packed into one string: split on spaces, or on `separator` where an item
    has a space. The order matters: the generator draws seeded indexes into these lists, so a
    reordered list changes every generated world."""
    return tuple(text.split(separator))


FIRST_NAMES = _words(
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew "
    "Betty Anthony Margaret Mark Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna "
    "Joshua Michelle Kenneth Carol Kevin Amanda Brian Dorothy George Melissa Timothy Deborah "
    "Ronald Stephanie Edward Rebecca Jason Sharon Jeffrey Laura Ryan Cynthia Jacob Kathleen Gary "
    "Amy Nicholas Angela Eric Shirley Jonathan Anna Stephen Brenda Larry Pamela Justin Emma Scott "
    "Nicole Brandon Helen Benjamin Samantha Samuel Katherine Gregory Christine Alexander Debra "
    "Frank Rachel Patrick Carolyn Raymond Janet Jack Catherine Dennis Maria Jerry Heather Tyler "
    "Diane Aaron Ruth Jose Julie Adam Olivia Nathan Joyce Henry Virginia Zachary Victoria Douglas "
    "Kelly Peter Lauren Kyle Christina Noah Joan Ethan Evelyn Jeremy Judith Walter Megan Christian "
    "Andrea Keith Cheryl Roger Hannah Terry Jacqueline Austin Martha Sean Gloria Gerald Teresa "
    "Carl Ann Harold Sara Dylan Madison Arthur Frances Lawrence Kathryn Jordan Janice Jesse Jean "
    "Bryan Abigail Billy Alice Bruce Judy Gabriel Sophia Joe Grace Logan Denise Alan Amber Juan "
    "Doris Albert Marilyn Willie Danielle Elijah Beverly Wayne Isabella Randy Theresa Vincent "
    "Diana Mason Natalie Roy Brittany Ralph Charlotte Bobby Marie Russell Kayla Bradley Alexis "
    "Philip Lori",
)

LAST_NAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips "
    "Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers "
    "Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson "
    "Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell "
    "Coleman Butler Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson "
    "Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole Hayes Bryant Herrera "
    "Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall Owens Harrison Fernandez "
    "McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns "
    "Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt "
    "Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer "
    "Rice Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant "
    "Dunn Kelley Spencer Hawkins O'Brien Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley "
    "Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley",
)

SUFFIXES = ("JR", "SR", "II", "III")

FIRM_FIRST = _words(
    "Summit;Harbor;Keystone;Prairie;Lakeside;Granite;Cedar;Riverbend;Bluewater;Northstar;Oakridge;"
    "Silverline;Pinecrest;Redwood;Maple Leaf;Ironwood;Crescent;Heritage;Pioneer;Frontier;Beacon;"
    "Meridian;Liberty;Cornerstone;Evergreen;Westfield;Eastgate;Highland;Sunrise;Golden Gate",
    ";",
)
FIRM_SECOND = _words(
    "Insurance Agency, LLC;Insurance Services, Inc.;Risk Partners LLC;Financial Group, Inc.;"
    "Benefits Agency LLC;Insurance Brokers, Inc.;Agency Holdings LLC;Insurance Associates",
    ";",
)

STREETS = _words(
    "Main Street;Oak Avenue;Maple Drive;Park Avenue;Cedar Lane;Elm Street;Washington Boulevard;"
    "Lake Road;Hill Street;Pine Court;River Road;Sunset Boulevard;Market Street;Church Street;"
    "Highland Avenue;Mill Road;Forest Drive;Spring Street;Center Street;Union Avenue",
    ";",
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

# State -> (city, ZIP, area code). Capitals; area codes only flavour the fictional 555 numbers.
STATE_CITIES: dict[str, tuple[str, str, str]] = {
    "AK": ("Juneau", "99801", "907"), "AL": ("Montgomery", "36104", "334"),
    "AR": ("Little Rock", "72201", "501"), "AZ": ("Phoenix", "85004", "602"),
    "CA": ("Sacramento", "95814", "916"), "CO": ("Denver", "80202", "303"),
    "CT": ("Hartford", "06103", "860"), "DC": ("Washington", "20001", "202"),
    "DE": ("Dover", "19901", "302"), "FL": ("Tallahassee", "32301", "850"),
    "GA": ("Atlanta", "30303", "404"), "GU": ("Hagatna", "96910", "671"),
    "HI": ("Honolulu", "96813", "808"), "IA": ("Des Moines", "50309", "515"),
    "ID": ("Boise", "83702", "208"), "IL": ("Springfield", "62701", "217"),
    "IN": ("Indianapolis", "46204", "317"), "KS": ("Topeka", "66603", "785"),
    "KY": ("Frankfort", "40601", "502"), "LA": ("Baton Rouge", "70801", "225"),
    "MA": ("Boston", "02108", "617"), "MD": ("Annapolis", "21401", "410"),
    "ME": ("Augusta", "04330", "207"), "MI": ("Lansing", "48933", "517"),
    "MN": ("Saint Paul", "55102", "651"), "MO": ("Jefferson City", "65101", "573"),
    "MS": ("Jackson", "39201", "601"), "MT": ("Helena", "59601", "406"),
    "NC": ("Raleigh", "27601", "919"), "ND": ("Bismarck", "58501", "701"),
    "NE": ("Lincoln", "68508", "402"), "NH": ("Concord", "03301", "603"),
    "NJ": ("Trenton", "08608", "609"), "NM": ("Santa Fe", "87501", "505"),
    "NV": ("Carson City", "89701", "775"), "NY": ("Albany", "12207", "518"),
    "OH": ("Columbus", "43215", "614"), "OK": ("Oklahoma City", "73102", "405"),
    "OR": ("Salem", "97301", "503"), "PA": ("Harrisburg", "17101", "717"),
    "PR": ("San Juan", "00901", "787"), "RI": ("Providence", "02903", "401"),
    "SC": ("Columbia", "29201", "803"), "SD": ("Pierre", "57501", "605"),
    "TN": ("Nashville", "37219", "615"), "TX": ("Austin", "78701", "512"),
    "UT": ("Salt Lake City", "84111", "801"), "VA": ("Richmond", "23219", "804"),
    "VI": ("Charlotte Amalie", "00802", "340"), "VT": ("Montpelier", "05602", "802"),
    "WA": ("Olympia", "98501", "360"), "WI": ("Madison", "53703", "608"),
    "WV": ("Charleston", "25301", "304"), "WY": ("Cheyenne", "82001", "307"),
}  # fmt: skip

# Rough share of producers resident in each state (population-like); others get 0.3.
STATE_WEIGHTS: dict[str, float] = {
    "CA": 12, "TX": 9, "FL": 7, "NY": 6, "PA": 4, "IL": 4, "OH": 3.5, "GA": 3.2,
    "NC": 3.2, "MI": 3, "NJ": 2.8, "VA": 2.6, "WA": 2.3, "AZ": 2.2, "MA": 2.1, "TN": 2.1,
    "IN": 2, "MO": 1.8, "MD": 1.8, "WI": 1.8, "CO": 1.8, "MN": 1.7, "SC": 1.6, "AL": 1.5,
    "LA": 1.4, "KY": 1.3, "OR": 1.3, "OK": 1.2, "CT": 1.1, "UT": 1, "IA": 1, "NV": 1,
    "AR": 0.9, "MS": 0.9, "KS": 0.9, "NM": 0.6, "NE": 0.6, "ID": 0.6, "WV": 0.5, "PR": 0.5,
    "HI": 0.4, "NH": 0.4, "ME": 0.4, "RI": 0.3, "MT": 0.3, "DE": 0.3, "SD": 0.3, "ND": 0.25,
    "AK": 0.2, "DC": 0.2, "VT": 0.2, "WY": 0.2, "GU": 0.05, "VI": 0.03,
}  # fmt: skip

# 0: the state uses the NPN as license number; 1: numeric; 2: letter + digits with a leading 0.
LICENSE_NUMBER_STYLE: dict[str, int] = {
    "CA": 2, "WA": 0, "VA": 0, "MO": 0, "MT": 0, "NE": 0, "SD": 0, "VT": 0, "ND": 0,
}  # fmt: skip
