"""Data for scripts/benchmark_recall.py: paraphrase pairs, exact-term pairs, distractors.

PARAPHRASES: (memory, query) pairs where the query asks for the memory in other words — it
shares no content word with it (after schema.text.tokens: stopwords dropped, plurals folded),
which `shared_words` checks and tests/unit/test_recall_corpus.py enforces. Lexical search alone
cannot find these; only meaning can.

EXACT: (memory, query) pairs keyed by names, codes and numbers, where lexical search must stay
strong and an embedding model has little to go on.

`distractors(n, seed)` generates n everyday notes from templates over a broad vocabulary (the
same themes as the pairs: health, money, work, home, travel, code), deterministic per seed.
"""

from __future__ import annotations

import random

from schema.text import tokens

PARAPHRASES: list[tuple[str, str]] = [
    ("I sleep badly when I drink coffee late", "insomnia after evening caffeine"),
    ("My dentist appointment is on Tuesday morning", "when do I see the tooth doctor"),
    ("The car needs new tyres before winter", "replace automobile wheels ahead of the cold season"),
    ("Grandma's birthday party is at her house in June", "celebration for my grandmother turning a year older"),
    ("I am allergic to peanuts", "which nuts give me a reaction"),
    ("We adopted a puppy named Biscuit", "our new young dog"),
    ("The quarterly tax payment is due in April", "deadline for paying the government income levy"),
    ("Remember to water the tomato plants every evening", "garden vegetables need irrigation at dusk"),
    ("The wifi password is written on the fridge", "where is the wireless network key noted"),
    ("My flight to Lisbon leaves at seven", "plane departure time for Portugal trip"),
    ("The kids' school starts again on September fourth", "when do the children return to class"),
    ("I promised to call my sister this weekend", "phone the sibling on Saturday or Sunday"),
    ("The basement flooded after the heavy rain", "water damage downstairs from the storm"),
    ("Running three times a week lowered my blood pressure", "jogging helped with hypertension"),
    ("The landlord raised the rent by ten percent", "apartment owner increased monthly housing cost"),
    ("I keep losing my reading glasses", "misplaced spectacles again"),
    ("The team meeting moved to Thursday afternoon", "staff gathering rescheduled"),
    ("Our electricity bill doubled this winter", "power costs went up a lot during the cold months"),
    ("I want to learn to play the guitar", "goal of picking up a string instrument"),
    ("The doctor said to cut down on salt", "physician advice about sodium intake"),
    ("My laptop battery dies after an hour", "notebook computer power runs out quickly"),
    ("We are saving money for a house deposit", "putting cash aside to buy a home"),
    ("The neighbour's dog barks all night", "noisy pet next door keeps me awake"),
    ("I feel anxious before public speaking", "nervous about giving talks to an audience"),
    ("The bakery on the corner sells great sourdough", "nearby shop with excellent bread"),
    ("My passport expires next March", "travel document renewal date"),
    ("The printer in the office is out of toner", "workplace copier needs ink cartridge"),
    ("I read before bed to fall asleep", "books help me drift off at night"),
    ("We argued about the holiday plans", "disagreement over vacation arrangements"),
    ("My knee hurts when I climb stairs", "joint pain walking up steps"),
    ("The garbage truck comes on Monday", "which day is rubbish collection"),
    ("She prefers tea to coffee", "her favourite hot beverage"),
    ("The bank charged an overdraft fee", "penalty for spending beyond my account balance"),
    ("I started a vegetarian diet in January", "stopped eating meat at the beginning of the year"),
    ("The server crashed because the disk filled up", "machine went down when storage ran out"),
    ("Backups run every night at two", "nightly copy of the data schedule"),
    ("The recipe calls for three eggs and a cup of flour", "ingredients for the cake batter"),
    ("Our cat hates the vacuum cleaner", "feline scared by the hoover"),
    ("I owe Mark fifty dollars from dinner", "debt to a friend after the restaurant meal"),
    ("The museum is free on the first Sunday of the month", "no admission charge at the gallery some weekends"),
    ("I get migraines when I skip lunch", "headaches from missing a midday meal"),
    ("The contract ends in December and must be renewed", "agreement expires when the year closes"),
    ("My bike was stolen from the station", "someone took the bicycle near the train platform"),
    ("Learning Spanish with an app every morning", "daily language practice on my phone"),
    ("The roof leaks above the bedroom", "water drips from the ceiling where I sleep"),
    ("We booked a cabin by the lake for August", "reserved a cottage near the water in summer"),
    ("The interview went well and they will call back", "job application looked promising"),
    ("I need to renew my driving licence", "permit to drive is about to lapse"),
    ("The baby wakes up every three hours", "infant night feeding routine"),
    ("Stocks fell sharply after the announcement", "market dropped following the news"),
    ("My grandfather fought in the war", "grandpa served as a soldier"),
    ("I feel happier after spending time outdoors", "nature walks improve my mood"),
    ("The heating system makes a loud banging noise", "radiators clank"),
    ("She is moving to Berlin for a new job", "relocating to Germany for work"),
    ("The password manager stores all my logins", "app that keeps account credentials"),
    ("Too much screen time gives me eye strain", "ocular fatigue from monitors"),
    ("Our wedding anniversary is in October", "date we got married"),
    ("The unit tests fail on the build machine", "automated checks break in continuous integration"),
    ("I meditate for ten minutes after waking", "morning mindfulness practice"),
    ("The fridge is making a humming sound", "refrigerator noise"),
    ("My mother is recovering from hip surgery", "mum healing after an operation"),
    ("We need more shelves for the books", "storage for our growing library"),
    ("The train was cancelled because of a strike", "rail service stopped during industrial action"),
    ("I lent my ladder to the neighbours", "borrowed steps are next door"),
    ("The plumber fixed the dripping tap", "faucet leak repaired"),
    ("Eating late at night gives me heartburn", "acid reflux after evening snacks"),
    ("The project deadline slipped by two weeks", "delivery date postponed"),
    ("My son scored a goal in his football match", "boy netted during the soccer game"),
    ("I should drink more water during the day", "stay hydrated"),
    ("The old photos are in a box in the attic", "where are the family pictures stored"),
    ("Interest rates went up again", "borrowing costs rose"),
    ("I forgot my umbrella and got soaked", "caught in the rain without protection"),
    ("The website loads slowly on mobile phones", "site performance is poor on handsets"),
    ("We planted an apple tree in the garden", "fruit sapling in the yard"),
    ("My manager praised the report", "boss liked the document I wrote"),
    ("The printer jams on thick paper", "copier gets stuck with heavy card stock"),
    ("I am trying to quit smoking", "giving up cigarettes"),
    ("The dishwasher leaves spots on the glasses", "cleaning machine marks drinking cups"),
    ("We watched a documentary about whales", "film on ocean mammals"),
    ("My insurance renewal doubled in price", "policy premium went up a lot"),
    ("The child has a fever and a cough", "kid is sick with a temperature"),
    ("I lost my keys at the gym", "misplaced house door opener while exercising"),
    ("The database queries are slow without an index", "lookups lag for lack of a lookup structure"),
    ("Dad likes fishing on the river at dawn", "father angling at sunrise"),
    ("The hotel room overlooked the sea", "accommodation had an ocean view"),
    ("I have a meeting with the lawyer about the will", "appointment with an attorney regarding inheritance"),
    ("Our team won the quiz at the pub", "trivia night victory"),
    ("The cookies burned because the oven runs hot", "biscuits were charred"),
    ("My phone screen cracked when I dropped it", "broken display after a fall"),
    ("The council will repair the potholes next month", "city fixing road damage soon"),
    ("I feel tired every afternoon around three", "energy slump after midday"),
    ("We rented bikes to explore the island", "cycled around the isle on hired two wheelers"),
    ("The charity run raised money for the hospital", "fundraiser jog for medical care"),
    ("My brother is getting married in spring", "sibling wedding next year in the warmer months"),
    ("I prefer working from home on Fridays", "remote work at the end of the week"),
    ("The deploy failed because of a missing environment variable", "release broke over an unset config setting"),
    ("She paints watercolours of mountains", "artist making pictures of peaks"),
    ("The garage door opener needs a new battery", "remote for the carport is dead"),
    ("I want to visit Japan during cherry blossom season", "trip to Tokyo when sakura bloom"),
    ("We donated old clothes to the shelter", "gave used garments to charity"),
    ("The elevator is broken so we took the stairs", "lift out of order"),
    ("My cholesterol is high according to the blood test", "lab results show elevated lipids"),
    ("The neighbours are having a barbecue on Saturday", "cookout next door this weekend"),
    ("I need a haircut before the wedding", "trim at the barber"),
    ("The movie was too long and boring", "film dragged"),
    ("We hired a tutor for maths", "private teacher helps with arithmetic"),
    ("Snow closed the mountain pass overnight", "blizzard blocked the alpine road"),
    ("The espresso machine needs descaling", "remove limescale from the coffee maker"),
]

EXACT: list[tuple[str, str]] = [
    (f"Ticket {code} is assigned to {name} and blocks the release", f"{code}")
    for code, name in [
        ("JIRA-4821", "Olsen"), ("OPS-1177", "Marquez"), ("SEC-0932", "Haddad"), ("BUG-7310", "Nakamura"),
        ("INFRA-2204", "Kowalski"), ("DATA-6650", "Okafor"), ("WEB-3318", "Lindqvist"), ("API-5092", "Moreau"),
    ]
] + [
    (f"Invoice {number} from {vendor} was paid on the {day}th", f"invoice {number}")
    for number, vendor, day in [
        ("88213", "Acme Supplies", 3), ("40972", "Globex", 11), ("13579", "Initech", 14), ("60414", "Umbrella Corp", 20),
        ("77031", "Stark Industries", 7), ("25860", "Wayne Enterprises", 25), ("91127", "Hooli", 9), ("30648", "Vandelay", 16),
    ]
] + [
    (f"{name} works on the {team} team and reports to {boss}", f"{name}")
    for name, team, boss in [
        ("Thandiwe Mokoena", "payments", "Rivera"), ("Bartholomew Quince", "search", "Adeyemi"),
        ("Ingrid Halvorsen", "mobile", "Tanaka"), ("Dmitri Volkov", "platform", "Okonkwo"),
        ("Priya Raghunathan", "billing", "Schultz"), ("Lorcan Fitzgerald", "growth", "Nguyen"),
        ("Svetlana Petrenko", "security", "Alvarez"), ("Kwame Boateng", "data", "Fischer"),
    ]
] + [
    (f"The router at {ip} is configured with VLAN {vlan}", f"{ip}")
    for ip, vlan in [
        ("10.42.7.19", 310), ("192.168.88.4", 120), ("172.16.31.250", 415), ("10.0.99.3", 77),
    ]
] + [
    (f"Order {sku} of {count} units shipped by {carrier}", f"{sku}")
    for sku, count, carrier in [
        ("SKU-ZX81", 40, "DHL"), ("SKU-QL94", 12, "UPS"), ("SKU-MK2B", 300, "FedEx"), ("SKU-TR55", 7, "GLS"),
    ]
]

_PEOPLE = """Anna Ben Carla David Elena Farid Grace Hugo Ines Jonas Kenji Lena Mateo Nadia Omar Paula Quentin
Rosa Samir Tara Umar Vera Wen Ximena Yusuf Zoe colleague neighbour cousin uncle aunt friend manager client
teacher coach""".split()
_VERBS = """discussed reviewed cancelled booked repaired painted cleaned ordered returned packed fixed moved
checked planned bought sold borrowed measured updated signed printed emailed tested compared organised
postponed confirmed delivered installed replaced counted sorted labelled""".split()
_OBJECTS = [o.strip() for o in """budget spreadsheet, kitchen sink, garden fence, invoice, contract, bicycle
chain, laptop charger, conference schedule, curtains, bookshelf, report draft, parking permit, gym membership,
phone plan, recipe book, vacation photos, birthday gift, warranty card, tax forms, shopping list, window frame,
bathroom tiles, coffee table, project roadmap, meeting notes, training plan, grocery order, printer cable,
insurance letter, school uniform, piano lessons, website layout, database schema, sales figures, moving boxes,
winter coats, flower beds, camping gear, dinner menu, hotel booking, train tickets, medical records, car
registration, paint samples, running shoes, desk lamp, water bill, tent poles, guest list, spare tyre, fishing
rods, oven timer, newsletter, rental agreement, solar panels, toolbox""".replace("\n", " ").split(",")]
_WHEN = """on Monday, on Tuesday, on Wednesday, yesterday, last week, this morning, after lunch, before the
weekend, at the end of the month, over the holidays, during the break, early today, late last night,
next Friday, in the spring""".replace("\n", " ").split(", ")
_WHERE = """at the office, at home, downtown, at the library, in the garage, at the cafe, on the train,
at the market, in the park, at the community centre, online, at the warehouse""".replace("\n", " ").split(", ")
_TEMPLATES = [
    "{p} {v} the {o} {w}",
    "{p} and {q} {v} the {o} {at}",
    "Need to ask {p} whether the {o} was {v} {w}",
    "{w} I {v} the {o} {at}",
    "Note: the {o} still has to be {v}; {p} offered to help {w}",
    "{p} {v} the {o} {at} and then the {o2}",
    "Reminder that {p} {v} the {o} {w} {at}",
]


def distractors(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        template = rng.choice(_TEMPLATES)
        out.append(
            template.format(
                p=rng.choice(_PEOPLE), q=rng.choice(_PEOPLE), v=rng.choice(_VERBS), o=rng.choice(_OBJECTS),
                o2=rng.choice(_OBJECTS), w=rng.choice(_WHEN), at=rng.choice(_WHERE),
            )
        )
    return out


def shared_words(memory: str, query: str) -> set[str]:
    """Content words (schema.text.tokens) the query shares with its memory."""
    return set(tokens(memory)) & set(tokens(query))
