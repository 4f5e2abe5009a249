"""A fictional, deterministic demo hub for `flask seed-demo` and `flask demo-logins`.

Every person, practice and organisation here is made up. All choices come from one
random.Random(2026), so every run builds the same people, references and counts; times are
counted back from the start of the current day (UTC), so the demo always looks current and
nothing is dated in the future.

NHS numbers are in the 999 test range, phone numbers in Ofcom's drama ranges
(07700 900xxx and 01632 960xxx), and email addresses end in .invalid.
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple

import nhs_number
import sqlalchemy as sa

from portal.alerts.models import Alert, AlertKind
from portal.auth.mfa import enrol_demo_account
from portal.auth.models import Role, User
from portal.auth.passwords import hash_password
from portal.cases.models import Contact, ContactMethod, ContactResult, Goal, GoalStatus
from portal.directory.models import (
    Activity,
    ActivityAttendance,
    ActivityCategory,
    ActivityReferral,
    ActivityReferralStatus,
    ActivityStatus,
    Frequency,
    Organisation,
)
from portal.extensions import db
from portal.measures import scales
from portal.measures.models import MeasureResponse, Scale, Stage
from portal.referrals.models import (
    ClosureReason,
    Neighbourhood,
    Practice,
    PreferredContact,
    Referral,
    ReferralAction,
    ReferralEvent,
    ReferralReason,
    ReferralReasonLink,
    ReferralSource,
    ReferralStatus,
    ReportFrequency,
    Resident,
    Route,
    Urgency,
)
from portal.referrals.working_days import add_working_days
from portal.reports.models import DeliveryStatus, QueuedOutcome, ReportEvent, ReportKind
from portal.volunteers.models import (
    BuddyMatch,
    BuddyMatchStatus,
    DbsLevel,
    HoursKind,
    LeftReason,
    TrainingModule,
    TrainingRecord,
    Volunteer,
    VolunteerHours,
    VolunteerStatus,
)
from portal.volunteers.profile import INTERESTS, SLOTS, TRANSPORT

# Printed by `flask seed-demo` on purpose: it opens fictional demo accounts only.
DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105
RANDOM_SEED = 2026

# One login per role, in Role order: (role, email, full name).
DEMO_ACCOUNTS: tuple[tuple[Role, str, str], ...] = (
    (Role.ADMIN, "admin@demo.example.org", "Alex Morgan"),
    (Role.COORDINATOR, "coordinator@demo.example.org", "Priya Sharma"),
    (Role.NAVIGATOR, "navigator@demo.example.org", "Daniel Hughes"),
    (Role.VOLUNTEER, "volunteer@demo.example.org", "Grace Adeyemi"),
    (Role.ORGANISATION_MEMBER, "organisation@demo.example.org", "Helen Marsh"),
    (Role.PRACTICE_USER, "practice@demo.example.org", "Nadia Rahman"),
    (Role.COMMISSIONER, "commissioner@demo.example.org", "Claire Donovan"),
)
_DEMO_EMAIL = {role: email for role, email, _ in DEMO_ACCOUNTS}
_DEMO_NAME = {role: name for role, _, name in DEMO_ACCOUNTS}


class DemoRefused(Exception):
    """The database is not empty, so demo data is not loaded into it."""


def demo_logins() -> list[tuple[str, str, str]]:
    """(role label, email, full name) for each demo account that exists in this database."""
    emails = [email for _, email, _ in DEMO_ACCOUNTS]
    users = {
        user.email: user
        for user in db.session.scalars(sa.select(User).where(User.email.in_(emails)))
    }
    return [
        (role.label, email, users[email].full_name)
        for role, email, _ in DEMO_ACCOUNTS
        if email in users
    ]


def demo_authenticator_keys() -> list[tuple[str, str]]:
    """(email, key) for each demo account with two-step login, for an authenticator app."""
    emails = [email for _, email, _ in DEMO_ACCOUNTS]
    users = db.session.scalars(
        sa.select(User)
        .where(User.email.in_(emails), User.mfa_enabled_at.is_not(None))
        .order_by(User.role, User.email)
    )
    return [(user.email, user.totp_secret) for user in users]


def seed() -> list[tuple[str, str, str]]:
    """Fill an empty database with the demo hub in one transaction; return the demo logins."""
    for model, what in (
        (User, "users"),
        (Neighbourhood, "neighbourhoods"),
        (Practice, "practices"),
        (Organisation, "organisations"),
        (Resident, "residents"),
    ):
        if db.session.scalar(sa.select(sa.func.count()).select_from(model)):
            raise DemoRefused(
                f"The database already has {what}: demo data is only loaded into an empty database."
            )
    try:
        _Builder().build()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return demo_logins()


# --- Fixed, fictional reference data ---------------------------------------------------------

# Postcode districts from the CV area, by neighbourhood.
_NEIGHBOURHOODS = (
    ("North Coventry INT", "north.int@nhs.invalid", ("CV1", "CV6", "CV6", "CV7")),
    ("South and West Coventry INT", "southwest.int@nhs.invalid", ("CV3", "CV4", "CV5", "CV8")),
    ("East Coventry INT", "east.int@nhs.invalid", ("CV2", "CV2", "CV3")),
)
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

# (neighbourhood index, practice name). The first is the demo practice user's.
_PRACTICES = (
    (0, "Hawthorn Medical Centre"),
    (0, "Kingfisher Surgery"),
    (0, "Oakfield Health Centre"),
    (0, "Brookside Family Practice"),
    (1, "Willowbank Surgery"),
    (1, "Larkspur Medical Practice"),
    (1, "Elmfield Health Centre"),
    (1, "Meadowview Surgery"),
    (2, "Rowan Tree Surgery"),
    (2, "Heronsgate Medical Centre"),
    (2, "Ashgrove Health Centre"),
    (2, "Foxglove Family Practice"),
)

_STREETS = (
    "Acacia Avenue",
    "Beech Road",
    "Chestnut Close",
    "Damson Way",
    "Elder Grove",
    "Fern Lane",
    "Goldcrest Drive",
    "Hazel Road",
    "Ivy Close",
    "Juniper Walk",
    "Laburnum Street",
    "Maple Crescent",
    "Orchard Way",
    "Poplar Road",
    "Quince Close",
    "Rosebay Avenue",
    "Sorrel Drive",
    "Teasel Close",
    "Upland Road",
    "Violet Grove",
    "Wren Street",
    "Yew Tree Lane",
)

# (name, verified, description). The first is the demo organisation member's.
_ORGANISATIONS = (
    ("Wellspring Community Trust", True, "A community centre offering lunch clubs and classes."),
    ("Three Spires Carers Network", True, "Support, breaks and advice for unpaid carers."),
    ("Canalside Growers", True, "Community growing spaces and green health walks."),
    ("Silver Threads Befriending", True, "Befriending by phone and friendship cafés."),
    ("Riverside Men's Shed", True, "A workshop where people share skills and make things."),
    ("Connect Digital Buddies", True, "Patient, one-to-one help with phones and tablets."),
    ("Harmony Voices Community Choir", True, "Singing for wellbeing; no experience needed."),
    ("Sisterhood Women's Circle", True, "Activities and friendship for women of all cultures."),
    ("Moneywise Advice Centre", True, "Free, confidential advice on benefits, debt and bills."),
    ("Open Door Wellbeing", True, "Peer support and courses for mental wellbeing."),
    ("Golden Years Friendship Society", False, "A social club for older people, newly formed."),
    ("Stepping Out Volunteering Hub", False, "Helps people find volunteering that suits them."),
)

_C = ActivityCategory
_W = Frequency
# (organisation index, title, categories, frequency, weekdays, start, end, cost in pence, online)
# fmt: off
_ACTIVITIES = (
    (0, "Tuesday Lunch Club", [_C.SOCIAL_CONNECTION], _W.WEEKLY, [1], "12:00", "14:00", 350, 0),
    (0, "Chair-Based Exercise", [_C.PHYSICAL_ACTIVITY], _W.WEEKLY, [3], "10:30", "11:30", 200, 0),
    (0, "Knit and Natter", [_C.ARTS, _C.SOCIAL_CONNECTION], _W.WEEKLY, [2], "13:30", "15:30", 0,
     0),
    (0, "Friday Coffee Morning", [_C.SOCIAL_CONNECTION], _W.WEEKLY, [4], "10:00", "12:00", 0, 0),
    (0, "Bingo and Tea", [_C.SOCIAL_CONNECTION], _W.FORTNIGHTLY, [0], "14:00", "16:00", 150, 0),
    (1, "Carers' Drop-in", [_C.CARERS], _W.FORTNIGHTLY, [0], "10:00", "12:00", None, 0),
    (1, "Carers' Relaxation Morning", [_C.CARERS, _C.MENTAL_WELLBEING], _W.MONTHLY, [5],
     "10:00", "12:00", None, 0),
    (1, "Carers' Phone Support", [_C.CARERS], _W.BY_ARRANGEMENT, [], None, None, None, 0),
    (2, "Community Allotment Mornings", [_C.NATURE, _C.PHYSICAL_ACTIVITY], _W.WEEKLY, [2, 5],
     "09:30", "12:30", None, 0),
    (2, "Green Health Walks", [_C.NATURE, _C.PHYSICAL_ACTIVITY], _W.WEEKLY, [0], "10:00",
     "11:30", 0, 0),
    (2, "Seed Swap and Social", [_C.NATURE, _C.SOCIAL_CONNECTION], _W.MONTHLY, [5], "11:00",
     "13:00", 0, 0),
    (2, "Conservation Volunteering", [_C.NATURE, _C.VOLUNTEERING], _W.FORTNIGHTLY, [6],
     "10:00", "13:00", 0, 0),
    (3, "Telephone Befriending", [_C.SOCIAL_CONNECTION], _W.BY_ARRANGEMENT, [], None, None, 0, 0),
    (3, "Friendship Café", [_C.SOCIAL_CONNECTION], _W.WEEKLY, [3], "14:00", "16:00", 100, 0),
    (3, "Memory Café", [_C.SOCIAL_CONNECTION, _C.MENTAL_WELLBEING], _W.MONTHLY, [1], "14:00",
     "15:30", 0, 0),
    (4, "Shed Workshop Sessions", [_C.LEARNING, _C.SOCIAL_CONNECTION], _W.WEEKLY, [1, 3],
     "10:00", "15:00", 200, 0),
    (4, "Repair Café", [_C.LEARNING, _C.VOLUNTEERING], _W.MONTHLY, [5], "10:00", "13:00", 0, 0),
    (5, "Tablet and Smartphone Help", [_C.DIGITAL_SKILLS], _W.WEEKLY, [0], "14:00", "16:00", 0,
     0),
    (5, "Online Safety Basics", [_C.DIGITAL_SKILLS, _C.LEARNING], _W.FORTNIGHTLY, [2], "11:00",
     "12:00", 0, 1),
    (5, "Video Calling Your Family", [_C.DIGITAL_SKILLS, _C.SOCIAL_CONNECTION],
     _W.BY_ARRANGEMENT, [], None, None, None, 0),
    (6, "Singing for Wellbeing", [_C.ARTS, _C.MENTAL_WELLBEING], _W.WEEKLY, [2], "18:30",
     "20:00", 250, 0),
    (6, "Songs and Memories", [_C.ARTS, _C.SOCIAL_CONNECTION], _W.MONTHLY, [4], "14:00",
     "15:30", 0, 0),
    (7, "Women's Walking Group", [_C.PHYSICAL_ACTIVITY, _C.SOCIAL_CONNECTION], _W.WEEKLY, [5],
     "10:00", "11:00", 0, 0),
    (7, "Sewing and Chat", [_C.ARTS, _C.FAITH_CULTURE], _W.WEEKLY, [1], "13:00", "15:00", 0, 0),
    (7, "English Conversation Class", [_C.LEARNING], _W.WEEKLY, [3], "10:00", "12:00", 0, 0),
    (8, "Benefits Check Appointments", [_C.MONEY_ADVICE], _W.BY_ARRANGEMENT, [0, 1, 2, 3, 4],
     "09:30", "16:30", 0, 0),
    (8, "Energy Bills Help Desk", [_C.MONEY_ADVICE], _W.WEEKLY, [2], "10:00", "13:00", 0, 0),
    (8, "Pension Credit Clinic", [_C.MONEY_ADVICE], _W.MONTHLY, [3], "10:00", "15:00", 0, 0),
    (9, "Managing Anxiety Course", [_C.MENTAL_WELLBEING, _C.LEARNING], _W.WEEKLY, [0], "18:00",
     "19:30", 0, 0),
    (9, "Peer Support Group", [_C.MENTAL_WELLBEING], _W.WEEKLY, [3], "18:00", "19:30", 0, 0),
    (9, "Mindfulness in the Park", [_C.MENTAL_WELLBEING, _C.NATURE], _W.WEEKLY, [5], "09:30",
     "10:30", 0, 0),
    (9, "Online Wellbeing Check-in", [_C.MENTAL_WELLBEING], _W.WEEKLY, [1], "19:00", "20:00", 0,
     1),
    (10, "Multicultural Seniors' Lunch", [_C.FAITH_CULTURE, _C.SOCIAL_CONNECTION], _W.WEEKLY,
     [4], "12:00", "14:00", 300, 0),
    (10, "Chair Yoga", [_C.PHYSICAL_ACTIVITY], _W.WEEKLY, [1], "11:00", "12:00", 300, 0),
    (11, "Volunteer Taster Days", [_C.VOLUNTEERING], _W.MONTHLY, [5], "10:00", "14:00", 0, 0),
    (11, "Community Litter Pick", [_C.VOLUNTEERING, _C.NATURE], _W.FORTNIGHTLY, [6], "10:00",
     "12:00", 0, 0),
)

# (name, months valid or None for never, required for buddy, navigator, befriender, description)
_TRAINING = (
    ("Induction", None, True, True, True, "The hub, its values and how volunteering works."),
    ("Safeguarding adults", 36, True, True, True, "Recognising and reporting abuse and neglect."),
    ("Information governance and data protection", 12, True, True, True,
     "Keeping people's information safe and confidential."),
    ("Befriending skills", 36, True, False, True, "Listening, boundaries and ending well."),
    ("Lone working", 24, True, True, False, "Staying safe when visiting people on your own."),
    ("Dementia Friends", None, False, False, False, "Understanding life with dementia."),
)
# fmt: on


def _names(text: str) -> list[str]:
    return text.split()


class _Pool(NamedTuple):
    """Names that go together, and the language people with them may speak."""

    resident_weight: int
    volunteer_weight: int
    language: str
    # The chance that a resident from this pool speaks `language` as their main language.
    speaks_it: float
    older_women: list[str]
    older_men: list[str]
    younger_women: list[str]
    younger_men: list[str]
    family_names: list[str]


# fmt: off
_POOLS = (
    _Pool(
        52, 52, "English", 1.0,
        _names("Margaret Patricia Jean Brenda Sheila Maureen Doreen Joan Barbara Valerie "
               "Pauline Christine Sandra Janet Irene Elsie Kathleen Sylvia Carol Linda Beryl "
               "Hazel Marjorie Audrey Gillian Wendy Rita June"),
        _names("John David Michael Peter Brian Kenneth Roy Derek Alan Keith Geoffrey Ronald "
               "Trevor Graham Colin Barry Dennis Raymond Terence Malcolm Stanley Norman Gordon "
               "Leslie Clive Frank"),
        _names("Sarah Emma Rachel Claire Amy Laura Hannah Megan Chloe Helen Ruth Lucy Gemma "
               "Katie Rebecca Jess Abigail Zoe"),
        _names("James Daniel Ben Tom Chris Matthew Liam Ryan Sam Jack Oliver Adam Luke Joe Mark "
               "Rob"),
        _names("Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
               "Evans Walker White Roberts Green Hall Wood Jackson Clarke Turner Hill Cooper Ward "
               "Morris Harris Lewis Baker Harrison Bates Fletcher Holloway Pearson Dunn Shaw "
               "Lloyd Barnes Webb Chapman Mason Carter Price Parsons Bishop Kemp"),
    ),
    _Pool(
        8, 5, "English", 1.0,
        _names("Bridget Mary Eileen Noreen Siobhan Maura Teresa"),
        _names("Patrick Sean Declan Seamus Brendan Eamon Gerard"),
        _names("Niamh Aoife Ciara Orla"),
        _names("Conor Ciaran Niall Eoin"),
        _names("Murphy Kelly O'Brien Byrne Doyle Brennan Quinn Gallagher Flanagan Duffy Keane "
               "Walsh"),
    ),
    _Pool(
        7, 8, "English", 1.0,
        _names("Beverley Hyacinth Gloria Merle Pearl Icilda Maxine"),
        _names("Winston Clifton Lloyd Desmond Errol Neville Cecil"),
        _names("Shanice Jade Ama Folake Nia Abena"),
        _names("Kofi Tyrone Jerome Marcus Tunde Kwame"),
        _names("Campbell Francis Grant Henry Samuels Bailey Reid Bennett Mensah Okafor Boateng "
               "Asante"),
    ),
    _Pool(
        9, 9, "Punjabi", 0.55,
        _names("Gurmeet Harjit Jaswinder Kuldip Surinder Balbir Manjit Paramjit"),
        _names("Gurdev Harbans Ajit Sukhdev Mohinder Jaswant Baldev Darshan"),
        _names("Simran Harpreet Navdeep Amrit"),
        _names("Gurpreet Jaspal Harvinder Manpreet"),
        _names("Sandhu Gill Dhillon Sidhu Bains Johal Atwal Sahota Virdee Grewal"),
    ),
    _Pool(
        6, 7, "Gujarati", 0.55,
        _names("Hansa Jyoti Kokila Manjula Pushpa Savita Kanta Lata"),
        _names("Ramesh Dinesh Mahendra Pravin Jayant Vinod Suresh Harish"),
        _names("Priya Nisha Anjali Komal"),
        _names("Arjun Rahul Nikhil Kiran"),
        _names("Patel Mistry Parmar Chauhan Solanki Lad Shah Desai Joshi"),
    ),
    _Pool(
        7, 8, "Urdu", 0.55,
        _names("Nasreen Shamim Parveen Rukhsana Zubeda Bushra Razia Khalida"),
        _names("Mohammed Abdul Bashir Tariq Rashid Iqbal Sadiq Nazir"),
        _names("Aisha Sana Zara Hina Mariam"),
        _names("Imran Bilal Usman Hamza Faisal"),
        _names("Hussain Khan Akhtar Mahmood Rehman Malik Ahmed Qureshi Aslam Chaudhry"),
    ),
    _Pool(
        6, 7, "Polish", 0.7,
        _names("Krystyna Halina Danuta Zofia Jadwiga Wanda Irena"),
        _names("Jan Tadeusz Zbigniew Andrzej Stanisław Józef Kazimierz Ryszard"),
        _names("Ewa Kasia Agnieszka Magda Joanna"),
        _names("Piotr Tomasz Marek Paweł Łukasz"),
        _names("Nowak Wójcik Kaczmarek Mazur Krawczyk Zając Król Wieczorek Pawlak Michalak"),
    ),
    _Pool(
        5, 4, "Arabic", 0.8,
        _names("Fatima Amina Layla Samira Huda Nadia"),
        _names("Ahmed Omar Khalid Youssef Hassan Ibrahim"),
        _names("Noor Rania Yasmin Dalia"),
        _names("Sami Karim Tariq Ali"),
        _names("Haddad Mansour Saleh Nasser Khalil Hamdan Darwish Yassin"),
    ),
)
# fmt: on

_R = ReferralReason
_DETAILS = {
    _R.LONELINESS: "Lives alone and rarely leaves the house; would like company.",
    _R.LOW_MOOD: "Low mood for some months; has lost interest in things they used to enjoy.",
    _R.CARER_SUPPORT: "Cares full time for their partner and feels exhausted and cut off.",
    _R.BEREAVEMENT: "Recently bereaved and finding everyday things hard to face.",
    _R.MONEY: "Worried about bills; may not be claiming everything they are entitled to.",
    _R.HOUSING: "Damp in the home and struggling with the stairs; wants advice on moving.",
    _R.PHYSICAL_ACTIVITY: "Advised to be more active after a fall; lacks confidence going out.",
    _R.LONG_TERM_CONDITION: "Lives with diabetes and COPD; wants help to manage day to day.",
    _R.DIGITAL_INCLUSION: "Would like to video call family and order prescriptions online.",
    _R.OTHER: "Recently retired and looking for something meaningful to do.",
}
_REASON_WEIGHTS = {
    _R.LONELINESS: 30,
    _R.LOW_MOOD: 16,
    _R.CARER_SUPPORT: 8,
    _R.BEREAVEMENT: 8,
    _R.MONEY: 12,
    _R.HOUSING: 5,
    _R.PHYSICAL_ACTIVITY: 8,
    _R.LONG_TERM_CONDITION: 7,
    _R.DIGITAL_INCLUSION: 5,
    _R.OTHER: 2,
}
_REASON_CATEGORIES = {
    _R.LONELINESS: (_C.SOCIAL_CONNECTION,),
    _R.LOW_MOOD: (_C.MENTAL_WELLBEING, _C.ARTS),
    _R.CARER_SUPPORT: (_C.CARERS,),
    _R.BEREAVEMENT: (_C.SOCIAL_CONNECTION, _C.MENTAL_WELLBEING),
    _R.MONEY: (_C.MONEY_ADVICE,),
    _R.HOUSING: (_C.MONEY_ADVICE,),
    _R.PHYSICAL_ACTIVITY: (_C.PHYSICAL_ACTIVITY, _C.NATURE),
    _R.LONG_TERM_CONDITION: (_C.PHYSICAL_ACTIVITY,),
    _R.DIGITAL_INCLUSION: (_C.DIGITAL_SKILLS,),
    _R.OTHER: (_C.LEARNING, _C.VOLUNTEERING, _C.FAITH_CULTURE),
}
_GOALS = {
    _R.LONELINESS: ("Get out of the house at least once a week", "Make a new friend nearby"),
    _R.LOW_MOOD: ("Feel more like myself again", "Find something I enjoy doing each week"),
    _R.CARER_SUPPORT: ("Have a regular break from caring", "Meet other carers"),
    _R.BEREAVEMENT: ("Talk to someone who understands", "Get back to my Sunday routine"),
    _R.MONEY: ("Check I am getting the benefits I am entitled to", "Get my energy bills down"),
    _R.HOUSING: ("Get the damp in my flat sorted", "Find out about moving somewhere smaller"),
    _R.PHYSICAL_ACTIVITY: ("Walk to the park without stopping", "Join a gentle exercise class"),
    _R.LONG_TERM_CONDITION: ("Understand my medicines better", "Feel in control of my health"),
    _R.DIGITAL_INCLUSION: ("Video call my grandchildren", "Order repeat prescriptions online"),
    _R.OTHER: ("Find some volunteering I enjoy", "Learn something new"),
}

_KNOWN_RISKS = (
    "Lives alone; history of falls.",
    "Dog in the house: please ring ahead before visiting.",
    "Hard of hearing: text messages or face to face work best.",
    "Mild memory problems: confirm appointments by letter as well.",
    "Another person at the address can be hostile to visitors: visit in pairs.",
)
_ACCESSIBILITY = (
    "Uses a wheelchair",
    "Hard of hearing: please speak clearly and face them",
    "Partially sighted: letters in large print, please",
    "Walks with a frame; no stairs",
    "Has dementia: their daughter helps with appointments",
)
_PRACTICE_REFERRERS = (
    "GP",
    "GP",
    "Practice nurse",
    "Care coordinator",
    "Clinical pharmacist",
    "Health care assistant",
)
_PROFESSIONAL_REFERRERS = (
    "District nurse",
    "Housing officer",
    "Adult social care worker",
    "Community mental health nurse",
    "Fire service safe and well officer",
    "Hospital discharge team",
)
_CONTACT_NOTES = (
    "Talked through what matters to them and agreed next steps.",
    "Checked in on how the week went; feeling a bit brighter.",
    "Went through the options in the directory together.",
    "Discussed the activity they tried; keen to go again.",
    "Helped fill in a form over the phone.",
    "Talked about the goals; one is nearly done.",
    "A difficult week; listened and agreed to call again soon.",
)
_DECLINE_REASONS = (
    "The group is full until the new year",
    "The person decided it was too far to travel",
    "Not suitable: the venue has no step-free access",
    "The session has moved to evenings, which do not suit",
)
_SHARED_NOTES = (
    "Would like someone to meet her at the door on the first visit.",
    "Uses a walking stick; a chair near the front would help.",
    "Quite anxious about groups; may come with a buddy at first.",
    "Hard of hearing: please speak clearly and face him.",
    "Prefers to be called in the afternoon.",
)
_STOP_REASONS = (
    "Moved to a group nearer home",
    "Started a new job on that day",
    "No longer wanted to come",
    "Health got worse; may come back later",
)
_LEFT_REASONS = (
    LeftReason.MOVED,
    LeftReason.WORK_OR_STUDY,
    LeftReason.CARING,
    LeftReason.HEALTH,
    LeftReason.NO_LONGER_AVAILABLE,
)
_TRANSPORT = (*TRANSPORT[:1], *TRANSPORT[:3], None)
_BUDDY_NOTES = (
    "Walked to the park and had a coffee. In good spirits.",
    "Went along to the lunch club together; stayed for the quiz.",
    "Chatted about the garden over a cup of tea.",
    "Short call: tired today, but pleased to hear from me.",
    "Helped set up the tablet for video calls with family.",
    None,
)
_HOURS_NOTES = {
    HoursKind.TRAINING: ("Safeguarding refresher", "Befriending skills session", None),
    HoursKind.TRAVEL: ("Bus to and from the community centre", None),
    HoursKind.ADMIN: ("Phoning round about the coffee morning", None),
    HoursKind.SUPERVISION: ("Monthly volunteer catch-up", None),
    HoursKind.EVENT: ("Helped at the winter warmth drop-in", None),
}


# How many current referrals end up in each status; older closed ones are added on top.
_STATUS_PLAN = (
    (ReferralStatus.RECEIVED, 14),
    (ReferralStatus.CONTACTING, 12),
    (ReferralStatus.TRIAGED, 12),
    (ReferralStatus.ASSIGNED, 22),
    (ReferralStatus.ACTIVE, 50),
    (ReferralStatus.CLOSED, 50),
)
# Days before today each status's referrals were received.
_RECEIVED_DAYS = {
    ReferralStatus.RECEIVED: (1, 9),
    ReferralStatus.CONTACTING: (3, 18),
    ReferralStatus.TRIAGED: (6, 30),
    ReferralStatus.ASSIGNED: (12, 45),
    ReferralStatus.ACTIVE: (25, 200),
    ReferralStatus.CLOSED: (45, 270),
}
_CLOSURES = (
    (ClosureReason.CONNECTED, 14),
    (ClosureReason.GOALS_MET, 12),
    (ClosureReason.REFERRED_ON, 5),
    (ClosureReason.DECLINED, 5),
    (ClosureReason.UNABLE_TO_CONTACT, 5),
    (ClosureReason.NOT_APPROPRIATE, 3),
    (ClosureReason.MOVED_AWAY, 3),
    (ClosureReason.DIED, 3),
)
_RESIDENTS = 160
_EARLIER_REFERRALS = 30
_FIRST_REFERENCE = 1041

# (name, email, caseload capacity, volunteer navigator, share of new cases)
_NAVIGATORS = (
    (_DEMO_NAME[Role.NAVIGATOR], _DEMO_EMAIL[Role.NAVIGATOR], 30, False, 26),
    ("Aisha Begum", "aisha.begum@demo.example.org", 35, False, 24),
    ("Kasia Nowicka", "kasia.nowicka@demo.example.org", 25, False, 18),
    ("Leon Campbell", "leon.campbell@demo.example.org", 40, False, 24),
    ("Ruth Kendall", "ruth.kendall@demo.example.org", 25, True, 8),
)
# Volunteers besides the demo one, by status.
_VOLUNTEER_PLAN = (
    (VolunteerStatus.ACTIVE, 22),
    (VolunteerStatus.APPLIED, 5),
    (VolunteerStatus.VETTING, 6),
    (VolunteerStatus.PAUSED, 5),
    (VolunteerStatus.LEFT, 5),
)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(c for c in folded.encode("ascii", "ignore").decode() if c.isalnum()).lower()


class _Case:
    """One referral being built, with what the later steps need to know about it."""

    def __init__(self, resident: Resident, status: ReferralStatus, received_at: datetime):
        self.resident = resident
        self.status = status
        self.received_at = received_at
        self.closure: ClosureReason | None = None
        self.reasons: list[ReferralReason] = []
        self.navigator: User | None = None
        self.stale = False
        self.referral: Referral | None = None


class _Builder:
    def __init__(self) -> None:
        self.rng = random.Random(RANDOM_SEED)
        # Everything is dated before the start of today (UTC), so no run makes a future record
        # and the same offsets give the same counts whatever the time of day.
        self.today = datetime.now(UTC).date()
        self.midnight = datetime.combine(self.today, time(0, 0), tzinfo=UTC)
        self.latest = self.midnight - timedelta(minutes=5)
        self.password_hash = hash_password(DEMO_PASSWORD)
        self.used_emails: set[str] = set()
        self.used_phones: set[int] = set()

    # --- small helpers ---------------------------------------------------------------------

    def at(self, days_ago: int) -> datetime:
        """A moment in working hours, `days_ago` (>= 1) days before today."""
        minutes = self.rng.randint(8 * 60, 17 * 60 + 30)
        return self.midnight - timedelta(days=days_ago) + timedelta(minutes=minutes)

    def later(self, start: datetime, min_days: int, max_days: int) -> datetime:
        """A moment some days after `start`, never later than the end of yesterday."""
        moment = start + timedelta(
            days=self.rng.randint(min_days, max_days), minutes=self.rng.randint(20, 240)
        )
        return min(moment, self.latest)

    def postcode(self, outcodes: tuple[str, ...]) -> str:
        letters = self.rng.choices(_INWARD_LETTERS, k=2)
        return f"{self.rng.choice(outcodes)} {self.rng.randint(1, 9)}{letters[0]}{letters[1]}"

    def address(self, town: str = "Coventry") -> str:
        return f"{self.rng.randint(1, 180)} {self.rng.choice(_STREETS)}, {town}"

    def mobile(self) -> str:
        number = self.rng.choice([n for n in range(1000) if n not in self.used_phones])
        self.used_phones.add(number)
        return f"07700 900{number:03d}"

    def landline(self) -> str:
        return f"01632 960{self.rng.randint(0, 999):03d}"

    def stable_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def email_for(self, given: str, family: str, domain: str = "demo.invalid") -> str:
        base = f"{_ascii(given)}.{_ascii(family)}"
        email, n = f"{base}@{domain}", 1
        while email in self.used_emails:
            n += 1
            email = f"{base}{n}@{domain}"
        self.used_emails.add(email)
        return email

    def person(self, *, older: bool) -> tuple[str, str, str, _Pool]:
        """(given name, family name, gender, name pool): older for residents, else younger."""
        weights = [p.resident_weight if older else p.volunteer_weight for p in _POOLS]
        pool = self.rng.choices(_POOLS, weights=weights)[0]
        female = self.rng.random() < (0.58 if older else 0.65)
        if older:
            names = pool.older_women if female else pool.older_men
        else:
            names = pool.younger_women if female else pool.younger_men
        given, family = self.rng.choice(names), self.rng.choice(pool.family_names)
        return given, family, "Female" if female else "Male", pool

    def user(self, role: Role, full_name: str, email: str, **kw) -> User:
        self.used_emails.add(email)
        user = User(
            email=email,
            full_name=full_name,
            role=role,
            password_hash=self.password_hash,
            created_at=kw.pop("created_at", self.at(420)),
            **kw,
        )
        db.session.add(user)
        return user

    # --- the build --------------------------------------------------------------------------

    def build(self) -> None:
        self.staff()
        self.places()
        self.directory()
        self.portal_users()
        self.training_modules()
        self.volunteers()
        self.residents()
        self.referrals()
        self.casework()
        self.activity_referrals()
        self.buddy_matches()
        self.volunteer_time()
        self.follow_up()
        self.matching()
        self.outcome_reports()

    def outcome_reports(self) -> None:
        """The last few weeks' reports to each practice, delivered, so inboxes have history.

        Closures older than this week were reported in their own period; this week's are
        still waiting (see follow_up), so "Send now" and the morning run have work to do.
        """
        from portal.reports.delivery import claim_key, take_waiting
        from portal.reports.models import OutcomeReport, ReportAttempt
        from portal.reports.periods import last_complete, london_date

        week_ago = self.midnight - timedelta(days=7)
        since = self.midnight - timedelta(days=91)
        waiting: dict[int, list[datetime]] = {}
        for case in self.cases:
            referral = case.referral
            practice_id = referral.practice_id or case.resident.practice_id
            if practice_id is None:
                continue
            accepted = referral.assigned_at or referral.int_sent_at
            for event, at in (
                (ReportEvent.ACCEPTED, accepted),
                (ReportEvent.CLOSED, referral.closed_at),
            ):
                if at and since <= at < week_ago:
                    db.session.add(
                        QueuedOutcome(
                            referral_id=referral.id,
                            practice_id=practice_id,
                            event=event,
                            queued_at=at,
                        )
                    )
                    waiting.setdefault(practice_id, []).append(at)
        db.session.flush()
        today = london_date(self.midnight)
        for practice in self.practices:
            periods = sorted(
                {
                    last_complete(practice.report_frequency, today - timedelta(days=d))
                    for d in range(0, 92)
                },
                key=lambda p: p.start,
            )
            for period in periods:
                if period.end >= london_date(week_ago) or not any(
                    at < period.cutoff for at in waiting.get(practice.id, [])
                ):
                    continue
                made = period.cutoff + timedelta(hours=7)
                report = OutcomeReport(
                    claim_key=claim_key(ReportKind.SCHEDULED, practice.id, period),
                    kind=ReportKind.SCHEDULED,
                    practice_id=practice.id,
                    period_start=period.start,
                    period_end=period.end,
                    claimed_at=made,
                    claimed_by="scheduler",
                )
                db.session.add(report)
                db.session.flush()
                take_waiting(report, practice, period.cutoff)
                waiting[practice.id] = [at for at in waiting[practice.id] if at >= period.cutoff]
                if report.status == DeliveryStatus.EMPTY:
                    continue
                status = (
                    DeliveryStatus.SENT if practice.report_mailbox else DeliveryStatus.INBOX_ONLY
                )
                report.status, report.attempts, report.next_attempt_at = status, 1, None
                report.attempt_started_at = made
                if status == DeliveryStatus.SENT:
                    report.sent_at, report.sent_to = made, practice.report_mailbox
                else:
                    report.last_error = (
                        "The practice has no report mailbox, so reports stay in the portal inbox."
                    )
                # Earlier reports have been read; the latest waits for the practice.
                if period.end < london_date(week_ago) - timedelta(days=7):
                    report.read_at = made + timedelta(hours=3)
                db.session.add(
                    ReportAttempt(
                        report=report,
                        at=made,
                        outcome=status,
                        sent_to=report.sent_to,
                        error=report.last_error,
                        by="scheduler",
                    )
                )

    def matching(self) -> None:
        """Where the CV districts are, navigators' teams and languages, what people would like."""
        from portal.matching.postcodes import load_demo_area
        from portal.volunteers.profile import INTERESTS, SLOTS

        load_demo_area()
        rng = self.rng
        teams = [0, 1, 2, 1, 0]
        languages = [[], ["Punjabi", "Urdu"], ["Polish"], [], []]
        for navigator, team, spoken in zip(self.navigators, teams, languages, strict=True):
            navigator.neighbourhood_id = self.neighbourhoods[team].id
            navigator.languages = spoken
        buddied = set(
            db.session.scalars(
                sa.select(BuddyMatch.referral_id).where(
                    BuddyMatch.status.in_((BuddyMatchStatus.PROPOSED, BuddyMatchStatus.ACTIVE))
                )
            )
        )
        working = db.session.scalars(
            sa.select(Referral)
            .where(Referral.status.in_((ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE)))
            .order_by(Referral.id)
        ).all()
        for referral in working:
            referral.availability = sorted(rng.sample(SLOTS, rng.randint(2, 6)), key=SLOTS.index)
            referral.interests = sorted(rng.sample(INTERESTS, rng.randint(0, 3)))
            referral.access_needs = ["step_free"] if rng.random() < 0.2 else []
            lonely = ReferralReason.LONELINESS in referral.reason_codes
            referral.wants_buddy = referral.id not in buddied and lonely and rng.random() < 0.6
        db.session.flush()

    def volunteer_time(self) -> None:
        """Buddies' contacts with the people they support, their next meetings, and other hours."""
        rng = self.rng
        users = {v.id: v.user_id for v in self.volunteer_rows}
        matches = [
            m
            for m in self._buddy_rows
            if m.status in (BuddyMatchStatus.ACTIVE, BuddyMatchStatus.ENDED)
        ]
        contacts = []
        # Two buddies have gone quiet, so the supervision page has someone to follow up.
        active_others = [
            m
            for m in matches
            if m.status == BuddyMatchStatus.ACTIVE
            and m.volunteer_id != self.demo_volunteer.id
            and m.responded_at < self.latest - timedelta(days=30)
        ]
        quiet = {id(m) for m in rng.sample(active_others, min(2, len(active_others)))}
        for match in matches:
            start = match.responded_at
            end = match.ended_at or self.latest
            if id(match) in quiet:
                end = self.latest - timedelta(days=rng.randint(16, 21))
            when = self.later(start, 2, 7)
            while when < end:
                contacts.append(
                    Contact(
                        referral_id=match.referral_id,
                        author_id=users[match.volunteer_id],
                        occurred_at=when,
                        method=rng.choice(
                            (
                                ContactMethod.HOME_VISIT,
                                ContactMethod.PHONE,
                                ContactMethod.VENUE,
                                ContactMethod.ACCOMPANIED,
                            )
                        ),
                        duration_minutes=rng.choice((30, 45, 60, 60, 90)),
                        successful=True,
                        result=ContactResult.SPOKE,
                        notes=rng.choice(_BUDDY_NOTES),
                        created_at=when,
                    )
                )
                gap = rng.randint(5, 10) if rng.random() < 0.85 else rng.randint(15, 25)
                when = when + timedelta(days=gap)
            if match.status == BuddyMatchStatus.ACTIVE:
                last = contacts[-1].occurred_at if contacts else start
                next_day = max(self.today + timedelta(days=rng.randint(1, 6)), last.date())
                match.next_meeting_at = datetime.combine(
                    next_day, time(rng.choice((10, 11, 14))), tzinfo=UTC
                )
        db.session.add_all(contacts)
        hours = []
        for volunteer in self.volunteer_rows:
            if volunteer.status != VolunteerStatus.ACTIVE:
                continue
            for _ in range(rng.randint(2, 8)):
                kind = rng.choice(list(_HOURS_NOTES))
                worked = self.at(rng.randint(1, 150)).date()
                if worked < volunteer.applied_at.date():
                    continue
                hours.append(
                    VolunteerHours(
                        volunteer_id=volunteer.id,
                        worked_on=worked,
                        kind=kind,
                        minutes=rng.choice((30, 60, 90, 120, 180)),
                        notes=rng.choice(_HOURS_NOTES[kind]),
                    )
                )
        db.session.add_all(hours)

    def follow_up(self) -> None:
        """Next contact dates, this week's closures waiting for their GP report, and alerts."""
        rng = self.rng
        last_success: dict[int, datetime] = dict(
            db.session.execute(
                sa.select(Contact.referral_id, sa.func.max(Contact.occurred_at))
                .where(Contact.successful.is_(True))
                .group_by(Contact.referral_id)
            ).all()
        )
        week_ago = self.midnight - timedelta(days=7)
        for case in self.cases:
            referral = case.referral
            if referral.status in (ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE):
                since = last_success.get(referral.id) or referral.assigned_at
                referral.next_contact_on = since.date() + timedelta(days=rng.randint(7, 14))
            elif referral.status == ReferralStatus.CLOSED and referral.closed_at >= week_ago:
                practice_id = referral.practice_id or case.resident.practice_id
                if practice_id is not None:
                    db.session.add(
                        QueuedOutcome(
                            referral_id=referral.id,
                            practice_id=practice_id,
                            queued_at=referral.closed_at,
                        )
                    )
        navigator = self.navigators[0]
        mine = sorted(
            (
                c.referral
                for c in self.cases
                if c.referral.navigator_id == navigator.id
                and c.referral.status in (ReferralStatus.ASSIGNED, ReferralStatus.ACTIVE)
            ),
            key=lambda r: r.assigned_at,
        )
        if mine:
            newest = mine[-1]
            db.session.add(
                Alert(
                    user_id=navigator.id,
                    referral_id=newest.id,
                    kind=AlertKind.CASE_ASSIGNED,
                    message=f"{newest.reference} is now on your caseload. "
                    f"Assigned by {self.coordinators[0].full_name} (Hub coordinator).",
                    created_at=newest.assigned_at,
                )
            )
            active = [r for r in mine if r.status == ReferralStatus.ACTIVE]
            if active:
                db.session.add(
                    Alert(
                        user_id=navigator.id,
                        referral_id=active[0].id,
                        kind=AlertKind.BUDDY_CONCERN,
                        message=f"The buddy for {active[0].reference} says the person seemed "
                        "low and did not want to go out this week.",
                        created_at=self.latest - timedelta(days=1),
                    )
                )
        concerns = db.session.execute(
            sa.select(Contact.referral_id, Contact.occurred_at).where(
                Contact.concern_raised.is_(True),
                Contact.occurred_at >= self.midnight - timedelta(days=14),
            )
        ).all()
        for referral_id, at in concerns:
            for coordinator in self.coordinators:
                db.session.add(
                    Alert(
                        user_id=coordinator.id,
                        referral_id=referral_id,
                        kind=AlertKind.CONCERN_RAISED,
                        message="A navigator raised a safeguarding concern on this case. "
                        "Read it on the case.",
                        created_at=at,
                    )
                )
        db.session.flush()

    def staff(self) -> None:
        self.admin = self.user(Role.ADMIN, _DEMO_NAME[Role.ADMIN], _DEMO_EMAIL[Role.ADMIN])
        self.coordinators = [
            self.user(
                Role.COORDINATOR,
                _DEMO_NAME[Role.COORDINATOR],
                _DEMO_EMAIL[Role.COORDINATOR],
                phone=self.landline(),
            ),
            self.user(
                Role.COORDINATOR,
                "Michael Brennan",
                "michael.brennan@demo.example.org",
                phone=self.landline(),
            ),
        ]
        # Admins and coordinators must use two-step login: the demo ones come set up.
        for user in (self.admin, *self.coordinators):
            enrol_demo_account(user, self.at(400))
        self.navigators = [
            self.user(
                Role.NAVIGATOR,
                name,
                email,
                caseload_capacity=capacity,
                is_volunteer_navigator=volunteer,
                phone=self.mobile(),
            )
            for name, email, capacity, volunteer, _ in _NAVIGATORS
        ]
        self.navigator_weights = [share for *_, share in _NAVIGATORS]
        self.commissioner = self.user(
            Role.COMMISSIONER, _DEMO_NAME[Role.COMMISSIONER], _DEMO_EMAIL[Role.COMMISSIONER]
        )
        db.session.flush()

    def places(self) -> None:
        self.neighbourhoods = [
            Neighbourhood(name=name, email=email) for name, email, _ in _NEIGHBOURHOODS
        ]
        db.session.add_all(self.neighbourhoods)
        db.session.flush()
        codes = self.rng.sample(range(9001, 9999), len(_PRACTICES))
        self.practices = []
        self.practice_outcodes = []
        for i, (hood, name) in enumerate(_PRACTICES):
            ods = f"Y0{codes[i]}"
            outcodes = _NEIGHBOURHOODS[hood][2]
            frequency = {5: ReportFrequency.MONTHLY, 9: ReportFrequency.DAILY}.get(
                i, ReportFrequency.WEEKLY
            )
            self.practices.append(
                Practice(
                    ods_code=ods,
                    name=name,
                    neighbourhood_id=self.neighbourhoods[hood].id,
                    address=f"{name}, {self.address()}",
                    postcode=self.postcode(outcodes),
                    # One practice has no secure mailbox and reads reports in the portal.
                    report_mailbox=None if i == 11 else f"reports.{ods.lower()}@example.org",
                    report_frequency=frequency,
                    notify_on_close=self.rng.random() < 0.3,
                    # The demo practice is the largest, so it has the most referrals.
                    list_size=14_600 if i == 0 else self.rng.randrange(4_000, 13_000, 50),
                )
            )
            self.practice_outcodes.append(outcodes)
        db.session.add_all(self.practices)
        db.session.flush()
        self.practice_by_id = {p.id: p for p in self.practices}
        self.neighbourhood_by_id = {n.id: n for n in self.neighbourhoods}

    def directory(self) -> None:
        all_outcodes = ("CV1", "CV2", "CV3", "CV4", "CV5", "CV6")
        self.organisations = []
        for i, (name, verified, description) in enumerate(_ORGANISATIONS):
            slug = "".join(c for c in name.lower() if c.isalnum())[:24]
            created = self.at(self.rng.randint(300, 700))
            self.organisations.append(
                Organisation(
                    uuid=self.stable_uuid(),
                    name=name,
                    # Above any number the Charity Commission has issued: fictional.
                    charity_number=f"99{self.rng.randint(10000, 99999)}" if i % 4 != 3 else None,
                    description=description,
                    email=f"hello@{slug}.invalid",
                    phone=self.landline(),
                    website=f"https://{slug}.example",
                    address=self.address(),
                    postcode=self.postcode(all_outcodes),
                    verified_at=self.later(created, 5, 30) if verified else None,
                    created_at=created,
                )
            )
        db.session.add_all(self.organisations)
        db.session.flush()

        self.activities = []
        for row in _ACTIVITIES:
            org_index, title, categories, frequency, days, start, end, cost, online = row
            org = self.organisations[org_index]
            verified = _ORGANISATIONS[org_index][1]
            roll = self.rng.random()
            if not verified:
                status = ActivityStatus.DRAFT
            elif roll < 0.08:
                status = ActivityStatus.PAUSED
            elif roll < 0.12:
                status = ActivityStatus.DRAFT
            else:
                status = ActivityStatus.PUBLISHED
            if org_index == 0 and title != "Bingo and Tea":
                status = ActivityStatus.PUBLISHED
            # One in five has not been confirmed for over six months.
            stale = self.rng.random() < 0.2
            confirmed_days = self.rng.randint(190, 420) if stale else self.rng.randint(3, 150)
            capacity = None if frequency == Frequency.BY_ARRANGEMENT else self.rng.randint(8, 30)
            spaces = None if capacity is None else self.rng.choice([0, 2, 4, 6, capacity // 2])
            step_free = self.rng.random() < 0.75
            created = self.at(self.rng.randint(confirmed_days + 20, confirmed_days + 300))
            contact_given, contact_family, _, _ = self.person(older=False)
            activity = Activity(
                uuid=self.stable_uuid(),
                organisation_id=org.id,
                title=title,
                description=f"{title} with {org.name}. {_ORGANISATIONS[org_index][2]}",
                categories=[c.value for c in categories],
                frequency=frequency,
                days=list(days),
                # The first session: a few months back, on the activity's first day.
                starts_on=self._first_session(days, created) if days else None,
                monthly_week=self.rng.choice((1, 2, 3, -1))
                if frequency == Frequency.MONTHLY
                else None,
                start_time=time.fromisoformat(start) if start else None,
                end_time=time.fromisoformat(end) if end else None,
                venue_name=None if online or start is None else org.name,
                venue_address=None if online or start is None else org.address,
                postcode=None if online else org.postcode,
                online=bool(online),
                cost_pence=cost,
                min_age=50 if "Seniors" in title or "Lunch" in title else None,
                eligibility="Unpaid carers of any age" if _C.CARERS in categories else None,
                step_free=step_free,
                hearing_loop=self.rng.random() < 0.4,
                accessible_toilet=step_free and self.rng.random() < 0.8,
                transport_offered=self.rng.random() < 0.15,
                capacity=capacity,
                spaces_available=spaces,
                accepts_referrals=org_index == 0 or self.rng.random() < 0.85,
                contact_name=f"{contact_given} {contact_family}",
                contact_email=org.email,
                contact_phone=org.phone,
                status=status,
                last_confirmed_on=self.today - timedelta(days=confirmed_days),
                created_at=created,
                updated_at=max(created, self.at(confirmed_days)),
            )
            self.activities.append(activity)
        db.session.add_all(self.activities)
        db.session.flush()

    def portal_users(self) -> None:
        self.org_member = self.user(
            Role.ORGANISATION_MEMBER,
            _DEMO_NAME[Role.ORGANISATION_MEMBER],
            _DEMO_EMAIL[Role.ORGANISATION_MEMBER],
            organisation_id=self.organisations[0].id,
        )
        self.user(
            Role.ORGANISATION_MEMBER,
            "Farah Qureshi",
            "farah.qureshi@demo.example.org",
            organisation_id=self.organisations[8].id,
        )
        self.user(
            Role.ORGANISATION_MEMBER,
            "Owen Pritchard",
            "owen.pritchard@demo.example.org",
            organisation_id=self.organisations[10].id,
        )
        self.practice_user = self.user(
            Role.PRACTICE_USER,
            _DEMO_NAME[Role.PRACTICE_USER],
            _DEMO_EMAIL[Role.PRACTICE_USER],
            practice_id=self.practices[0].id,
        )
        self.user(
            Role.PRACTICE_USER,
            "Gareth Lewis",
            "gareth.lewis@demo.example.org",
            practice_id=self.practices[4].id,
        )
        db.session.flush()

    def training_modules(self) -> None:
        self.modules = [
            TrainingModule(
                name=name,
                description=description,
                valid_for_months=months,
                required_for_buddy=buddy,
                required_for_navigator=navigator,
                required_for_befriender=befriender,
            )
            for name, months, buddy, navigator, befriender, description in _TRAINING
        ]
        db.session.add_all(self.modules)
        db.session.flush()

    # --- volunteers --------------------------------------------------------------------------

    def volunteers(self) -> None:
        plan = [status for status, n in _VOLUNTEER_PLAN for _ in range(n)]
        self.rng.shuffle(plan)
        rows: list[tuple[User, Volunteer]] = []
        demo_user = self.user(
            Role.VOLUNTEER,
            _DEMO_NAME[Role.VOLUNTEER],
            _DEMO_EMAIL[Role.VOLUNTEER],
            phone=self.mobile(),
        )
        rows.append((demo_user, self.volunteer(VolunteerStatus.ACTIVE, "Female", demo=True)))
        for status in plan:
            given, family, gender, pool = self.person(older=False)
            user = self.user(
                Role.VOLUNTEER,
                f"{given} {family}",
                self.email_for(given, family),
                phone=self.mobile(),
            )
            rows.append((user, self.volunteer(status, gender, language=pool.language)))
        db.session.flush()
        for user, volunteer in rows:
            volunteer.user_id = user.id
            user.created_at = volunteer.applied_at
            if volunteer.status == VolunteerStatus.LEFT:
                user.is_active = False
        self.volunteer_rows = [v for _, v in rows]
        db.session.add_all(self.volunteer_rows)
        db.session.flush()
        records = []
        for volunteer in self.volunteer_rows:
            records.extend(self.training_for(volunteer, demo=volunteer is self.volunteer_rows[0]))
        db.session.add_all(records)
        self.demo_volunteer = self.volunteer_rows[0]

    def volunteer(
        self,
        status: VolunteerStatus,
        gender: str,
        *,
        demo: bool = False,
        language: str = "English",
    ) -> Volunteer:
        rng = self.rng
        days_ago = {
            VolunteerStatus.APPLIED: (1, 20),
            VolunteerStatus.VETTING: (15, 70),
            VolunteerStatus.ACTIVE: (120, 900),
            VolunteerStatus.PAUSED: (250, 900),
            VolunteerStatus.LEFT: (400, 1000),
        }[status]
        applied_days = 400 if demo else rng.randint(*days_ago)
        applied_at = self.at(applied_days)
        started = status in (VolunteerStatus.ACTIVE, VolunteerStatus.PAUSED, VolunteerStatus.LEFT)
        if demo:
            buddy, navigator, befriender = True, False, True
        else:
            buddy = rng.random() < 0.7
            navigator = rng.random() < 0.15
            befriender = rng.random() < 0.35 or not (buddy or navigator)
        languages = ["English"]
        if language != "English" and rng.random() < 0.8:
            languages.append(language)
        if rng.random() < 0.1:
            languages.append(rng.choice(("French", "Spanish", "Romanian", "Bengali")))
        slot_count = rng.randint(2, 6)
        volunteer = Volunteer(
            status=status,
            left_reason=rng.choice(_LEFT_REASONS) if status == VolunteerStatus.LEFT else None,
            role_buddy=buddy,
            role_navigator=navigator,
            role_befriender=befriender,
            postcode=self.postcode(("CV1", "CV2", "CV3", "CV4", "CV5", "CV6")),
            gender=gender,
            languages=languages,
            interests=sorted(rng.sample(INTERESTS, rng.randint(2, 4))),
            availability=sorted(rng.sample(SLOTS, slot_count), key=SLOTS.index),
            transport=rng.choice(_TRANSPORT),
            max_buddies=2 if demo else rng.randint(1, 3),
            motivation=rng.choice(
                (
                    "I have time since retiring and want to give something back.",
                    "My mum was lonely after Dad died and a volunteer made a real difference.",
                    "I'd like experience for a career in health and social care.",
                    "I moved here recently and want to get to know my community.",
                )
            ),
            privacy_consent_at=applied_at,
            applied_at=applied_at,
        )
        referees = started or (status == VolunteerStatus.VETTING and rng.random() < 0.6)
        if referees:
            for n in (1, 2):
                given, family, _, _ = self.person(older=False)
                setattr(volunteer, f"referee_{n}_name", f"{given} {family}")
                setattr(
                    volunteer,
                    f"referee_{n}_contact",
                    self.email_for(given, family, "referee.invalid"),
                )
                if started or n == 1:
                    setattr(
                        volunteer,
                        f"referee_{n}_received_on",
                        min(self.later(applied_at, 3, 20).date(), self.today),
                    )
        has_dbs = started or (status == VolunteerStatus.VETTING and rng.random() < 0.4)
        if has_dbs:
            issued = self.later(applied_at, 10, 35)
            volunteer.dbs_level = (
                DbsLevel.ENHANCED if buddy or navigator else rng.choice(list(DbsLevel))
            )
            volunteer.dbs_certificate_number = f"{rng.randrange(10**11, 10**12)}"
            volunteer.dbs_issue_date = issued.date()
            volunteer.dbs_update_service = rng.random() < 0.5
            volunteer.dbs_checked_by_id = rng.choice(self.coordinators).id
            volunteer.dbs_checked_at = self.later(issued, 2, 10)
        if started:
            volunteer.joined_on = self.later(applied_at, 35, 60).date()
        if referees:
            volunteer.references_requested_on = min(
                self.later(applied_at, 1, 3).date(), self.today - timedelta(days=1)
            )
        volunteer.status_changed_at = (
            datetime.combine(volunteer.joined_on, time(10), tzinfo=UTC)
            if volunteer.joined_on
            else applied_at
        )
        return volunteer

    def training_for(self, volunteer: Volunteer, *, demo: bool) -> list[TrainingRecord]:
        rng = self.rng
        if volunteer.status == VolunteerStatus.APPLIED:
            return []
        trainer = rng.choice(("Hub training team", "Online course", "Community trainer"))
        recorded_by = rng.choice(self.coordinators).id
        if volunteer.status == VolunteerStatus.VETTING:
            if rng.random() < 0.5:
                return []
            done = self.later(volunteer.applied_at, 5, 14)
            return [
                TrainingRecord(
                    volunteer_id=volunteer.id,
                    module_id=self.modules[0].id,
                    completed_on=done.date(),
                    trainer=trainer,
                    recorded_by_id=recorded_by,
                    created_at=done,
                )
            ]
        expiry_chance = {
            VolunteerStatus.ACTIVE: 0.15,
            VolunteerStatus.PAUSED: 0.45,
            VolunteerStatus.LEFT: 0.8,
        }[volunteer.status]
        joined = volunteer.joined_on
        records = []
        for module, (_, months, buddy, navigator, befriender, _) in zip(
            self.modules, _TRAINING, strict=True
        ):
            needed = (
                (buddy and volunteer.role_buddy)
                or (navigator and volunteer.role_navigator)
                or (befriender and volunteer.role_befriender)
            )
            if not needed and not (months is None and rng.random() < 0.4):
                continue
            expired = rng.random() < expiry_chance and not demo
            since_joining = (self.today - joined).days + rng.randint(0, 10)
            if months is None:
                done_days = since_joining
            elif expired:
                done_days = min(months * 31 + rng.randint(10, 200), since_joining)
            else:
                done_days = min(rng.randint(20, months * 30 - 30), since_joining)
            completed = self.today - timedelta(days=max(done_days, 1))
            records.append(
                TrainingRecord(
                    volunteer_id=volunteer.id,
                    module_id=module.id,
                    completed_on=completed,
                    trainer=trainer,
                    recorded_by_id=recorded_by,
                    created_at=min(
                        datetime.combine(completed, time(17, 0), tzinfo=UTC), self.latest
                    ),
                )
            )
        return records

    # --- residents and referrals ------------------------------------------------------------

    def nhs_numbers(self, count: int) -> list[str]:
        numbers: list[str] = []
        seen: set[str] = set()
        while len(numbers) < count:
            stem = f"999{self.rng.randint(0, 999_999):06d}"
            check = nhs_number.calculate_checksum(stem)
            if check is None or check == 10 or stem in seen:
                continue
            seen.add(stem)
            numbers.append(f"{stem}{check}")
        return numbers

    def residents(self) -> None:
        rng = self.rng
        numbers = self.nhs_numbers(_RESIDENTS)
        weights = [p.list_size for p in self.practices]
        names: set[tuple[str, str]] = set()
        self.resident_rows = []
        for i in range(_RESIDENTS):
            while True:
                given, family, gender, pool = self.person(older=True)
                if (given, family) not in names:
                    names.add((given, family))
                    break
            practice_index = rng.choices(range(len(self.practices)), weights=weights)[0]
            language = pool.language if rng.random() < pool.speaks_it else "English"
            # Mostly 60 to 95; some younger carers and people with long-term conditions.
            age = rng.randint(60, 95) if rng.random() < 0.85 else rng.randint(24, 59)
            birthday = self.today - timedelta(days=int(age * 365.25) + rng.randint(0, 364))
            preferred = rng.choices(list(PreferredContact), weights=(70, 12, 8, 10), k=1)[0]
            self.resident_rows.append(
                Resident(
                    nhs_number=numbers[i],
                    given_name=given,
                    family_name=family,
                    date_of_birth=birthday,
                    address=self.address(),
                    postcode=self.postcode(self.practice_outcodes[practice_index]),
                    phone=self.mobile() if preferred != PreferredContact.LETTER else None,
                    email=(
                        self.email_for(given, family, "resident.invalid")
                        if preferred == PreferredContact.EMAIL
                        else None
                    ),
                    preferred_contact=preferred,
                    language=language,
                    interpreter_needed=language != "English" and rng.random() < 0.5,
                    accessibility_needs=(
                        rng.choice(_ACCESSIBILITY) if rng.random() < 0.15 else None
                    ),
                    gender=gender,
                    practice_id=self.practices[practice_index].id,
                )
            )

    def referrals(self) -> None:
        rng = self.rng
        plan = [status for status, n in _STATUS_PLAN for _ in range(n)]
        rng.shuffle(plan)
        closures = [reason for reason, n in _CLOSURES for _ in range(n)]
        rng.shuffle(closures)
        cases: list[_Case] = []
        for resident, status in zip(self.resident_rows, plan, strict=True):
            case = _Case(resident, status, self.at(rng.randint(*_RECEIVED_DAYS[status])))
            if status == ReferralStatus.CLOSED:
                case.closure = closures.pop()
            # A few people have gone quiet: no successful contact for over two weeks.
            case.stale = status == ReferralStatus.ACTIVE and rng.random() < 0.1
            cases.append(case)
        # Some people were referred before, and that earlier referral is closed.
        recent = [c for c in cases if c.received_at >= self.midnight - timedelta(days=150)]
        for current in rng.sample(recent, _EARLIER_REFERRALS):
            earlier = _Case(current.resident, ReferralStatus.CLOSED, self.at(rng.randint(220, 280)))
            earlier.closure = rng.choices(
                [r for r, _ in _CLOSURES], weights=[n for _, n in _CLOSURES]
            )[0]
            cases.append(earlier)
        # Each resident was added to the portal with their first referral.
        earliest: dict[int, datetime] = {}
        for case in cases:
            key = id(case.resident)
            earliest[key] = min(earliest.get(key, case.received_at), case.received_at)
        for resident in self.resident_rows:
            resident.created_at = earliest[id(resident)] - timedelta(minutes=5)
        db.session.add_all(self.resident_rows)
        db.session.flush()

        # The demo navigator always holds an older active case that is overdue for contact.
        first_active = next(
            c
            for c in cases
            if c.status == ReferralStatus.ACTIVE
            and c.received_at < self.midnight - timedelta(days=60)
        )
        first_active.navigator = self.navigators[0]
        first_active.stale = True

        cases.sort(key=lambda c: (c.received_at, c.resident.nhs_number))
        for number, case in enumerate(cases, start=_FIRST_REFERENCE):
            case.referral = self.referral(case, f"SP-{number:06d}")
        db.session.add_all([c.referral for c in cases])
        db.session.flush()
        self.cases = cases

    def referral(self, case: _Case, reference: str) -> Referral:
        rng = self.rng
        resident = case.resident
        status = case.status
        count = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
        reasons: list[ReferralReason] = []
        while len(reasons) < count:
            reason = rng.choices(list(_REASON_WEIGHTS), weights=list(_REASON_WEIGHTS.values()))[0]
            if reason not in reasons:
                reasons.append(reason)
        case.reasons = reasons
        source = rng.choices(list(ReferralSource), weights=(70, 15, 15))[0]
        referrer_given, referrer_family, _, _ = self.person(older=False)
        if source == ReferralSource.PRACTICE:
            role = rng.choice(_PRACTICE_REFERRERS)
            referrer = f"Dr {referrer_given} {referrer_family}" if role == "GP" else None
            referrer = referrer or f"{referrer_given} {referrer_family}"
        elif source == ReferralSource.PROFESSIONAL:
            role = rng.choice(_PROFESSIONAL_REFERRERS)
            referrer = f"{referrer_given} {referrer_family}"
        else:
            role, referrer = None, None
        practice_id = resident.practice_id if source == ReferralSource.PRACTICE else None
        received = case.received_at
        referral = Referral(
            reference=reference,
            resident_id=resident.id,
            source=source,
            practice_id=practice_id,
            referred_by_id=(
                self.practice_user.id
                if practice_id == self.practice_user.practice_id and rng.random() < 0.5
                else None
            ),
            referrer_name=referrer,
            referrer_role=role,
            details=" ".join(_DETAILS[r] for r in reasons[:2]),
            known_risks=rng.choice(_KNOWN_RISKS) if rng.random() < 0.2 else None,
            urgency=Urgency.URGENT if rng.random() < 0.12 else Urgency.ROUTINE,
            consent_given=True,
            consent_share_with_gp=rng.random() < 0.9,
            consent_recorded_by=referrer or self.coordinators[0].full_name,
            consent_recorded_at=received,
            status=status,
            preferred_buddy_gender=(
                resident.gender
                if ReferralReason.LONELINESS in reasons and rng.random() < 0.3
                else None
            ),
            received_at=received,
        )
        referral.reasons = [ReferralReasonLink(reason=r) for r in reasons]

        closure = case.closure
        reached = status not in (ReferralStatus.RECEIVED, ReferralStatus.CONTACTING) and (
            closure != ClosureReason.UNABLE_TO_CONTACT
        )
        if reached:
            referral.first_contact_at = self.later(received, 0, 4)
            referral.triaged_at = self.later(referral.first_contact_at, 0, 3)
            if closure == ClosureReason.NOT_APPROPRIATE:
                referral.route = rng.choice((Route.NOT_APPROPRIATE, Route.SIGNPOST))
                if referral.route == Route.SIGNPOST:
                    case.closure = closure = ClosureReason.SIGNPOSTED
                referral.triage_note = (
                    "Needs a benefits appeal: given Citizens Advice details."
                    if referral.route == Route.SIGNPOST
                    else "Already well supported by the community mental health team."
                )
            else:
                referral.route = rng.choices(
                    (Route.SOCIAL_NAVIGATION, Route.BOTH, Route.INT), weights=(72, 16, 12)
                )[0]
                if closure == ClosureReason.REFERRED_ON:
                    referral.route = rng.choice((Route.BOTH, Route.INT))
                case.navigator = (
                    case.navigator
                    or rng.choices(self.navigators, weights=self.navigator_weights)[0]
                )
                referral.navigator_id = case.navigator.id
                referral.support_level = (
                    1
                    if case.navigator.is_volunteer_navigator
                    else rng.choices((1, 2, 3), weights=(25, 50, 25))[0]
                )
        if (
            reached
            and status
            in (
                ReferralStatus.ASSIGNED,
                ReferralStatus.ACTIVE,
                ReferralStatus.CLOSED,
            )
            and closure not in (ClosureReason.NOT_APPROPRIATE, ClosureReason.SIGNPOSTED)
        ):
            referral.assigned_at = self.later(referral.triaged_at, 1, 6)
        if referral.route in (Route.INT, Route.BOTH):
            practice = self.practice_by_id[resident.practice_id]
            referral.int_neighbourhood_id = practice.neighbourhood_id
            referral.int_sent_at = referral.triaged_at
        last = referral.assigned_at or referral.triaged_at or received
        if status == ReferralStatus.CLOSED:
            if closure == ClosureReason.UNABLE_TO_CONTACT:
                referral.closed_at = self.later(received, 14, 21)
            elif closure in (ClosureReason.NOT_APPROPRIATE, ClosureReason.SIGNPOSTED):
                referral.closed_at = referral.triaged_at
            elif closure in (ClosureReason.CONNECTED, ClosureReason.GOALS_MET):
                referral.closed_at = self.later(referral.assigned_at, 35, 110)
            else:
                referral.closed_at = self.later(referral.assigned_at, 10, 60)
            referral.closure_reason = closure
            referral.outcome_summary = {
                ClosureReason.CONNECTED: "Now going to a regular activity and feeling less alone.",
                ClosureReason.GOALS_MET: "Goals met; knows how to get back in touch.",
                ClosureReason.REFERRED_ON: "Referred on for more specialist support.",
                ClosureReason.DECLINED: "Decided they did not want further support for now.",
                ClosureReason.UNABLE_TO_CONTACT: "Three attempts by phone and a letter; no reply.",
                ClosureReason.NOT_APPROPRIATE: "Needs were better met by another service.",
                ClosureReason.SIGNPOSTED: "Given details of the right service; no further support.",
                ClosureReason.MOVED_AWAY: "Moved to be nearer family outside the area.",
                ClosureReason.DIED: "Sadly died; the practice has been told.",
            }[closure]
            last = referral.closed_at
        referral.updated_at = last
        return referral

    # --- contacts, goals and measures --------------------------------------------------------

    def casework(self) -> None:
        contacts: list[Contact] = []
        goals: list[Goal] = []
        measures: list[MeasureResponse] = []
        for case in self.cases:
            contacts.extend(self.contacts_for(case))
            goals.extend(self.goals_for(case))
            measures.extend(self.measures_for(case))
        db.session.add_all(contacts)
        db.session.add_all(goals)
        db.session.add_all(measures)
        db.session.flush()
        by_referral: dict[int, list[Contact]] = {}
        for contact in contacts:
            by_referral.setdefault(contact.referral_id, []).append(contact)
        db.session.add_all(
            event
            for case in self.cases
            for event in self.history_for(case, by_referral.get(case.referral.id, []))
        )
        db.session.flush()

    def history_for(self, case: _Case, contacts: list[Contact]) -> list[ReferralEvent]:
        """The milestones the state machine would have written, from the case's own dates."""
        referral = case.referral
        users = {u.id: u for u in (*self.coordinators, *self.navigators, self.practice_user)}

        def label(user: User | None) -> str:
            return f"{user.full_name} ({user.role.label})" if user else "The portal"

        hub = self.coordinators[referral.id % len(self.coordinators)]
        if referral.source == ReferralSource.SELF:
            received_by = "The person, using the online self-referral form"
        elif referral.referred_by_id:
            received_by = label(users[referral.referred_by_id])
        else:
            received_by = label(hub)
        S, A = ReferralStatus, ReferralAction
        steps: list[tuple[datetime, A, S | None, S | None, str, str | None]] = [
            (referral.received_at, A.RECEIVED, None, S.RECEIVED, received_by, None)
        ]
        status = S.RECEIVED
        for contact in sorted(contacts, key=lambda c: c.occurred_at):
            if referral.assigned_at and contact.occurred_at >= referral.assigned_at:
                break
            note = f"{contact.method.label}: {contact.result.label}"
            to = S.CONTACTING if status == S.RECEIVED else None
            steps.append(
                (
                    contact.occurred_at,
                    A.CONTACT_ATTEMPT,
                    status if to else None,
                    to,
                    label(users.get(contact.author_id)),
                    note,
                )
            )
            status = to or status
        if referral.triaged_at and referral.route:
            level = f", level {referral.support_level}" if referral.support_level else ""
            closes_at_triage = referral.route in (Route.SIGNPOST, Route.NOT_APPROPRIATE)
            steps.append(
                (
                    referral.triaged_at,
                    A.TRIAGED,
                    None if closes_at_triage else status,
                    None if closes_at_triage else S.TRIAGED,
                    label(hub),
                    referral.route.label + level,
                )
            )
            status = status if closes_at_triage else S.TRIAGED
            if referral.int_neighbourhood_id:
                team = self.neighbourhood_by_id[referral.int_neighbourhood_id]
                steps.append(
                    (referral.triaged_at, A.SENT_TO_INT, None, None, label(hub), team.name)
                )
        if referral.assigned_at and case.navigator:
            steps.append(
                (
                    referral.assigned_at,
                    A.ASSIGNED,
                    status,
                    S.ASSIGNED,
                    label(hub),
                    case.navigator.full_name,
                )
            )
            status = S.ASSIGNED
            navigator_contacts = [
                c for c in contacts if c.author_id == case.navigator.id and c.successful
            ]
            if referral.status in (S.ACTIVE, S.CLOSED) and navigator_contacts:
                first = min(c.occurred_at for c in navigator_contacts)
                steps.append((first, A.ACTIVATED, status, S.ACTIVE, label(case.navigator), None))
                status = S.ACTIVE
        if referral.closed_at:
            closer = case.navigator if referral.assigned_at and case.navigator else hub
            steps.append(
                (
                    referral.closed_at,
                    A.CLOSED,
                    status,
                    S.CLOSED,
                    label(closer),
                    referral.closure_reason.label,
                )
            )
        return [
            ReferralEvent(
                referral_id=referral.id,
                action=action,
                from_status=before,
                to_status=after,
                actor_id=next((u.id for u in users.values() if label(u) == who), None),
                actor_label=who,
                at=at,
                note=note,
                version=referral.version,
            )
            for at, action, before, after, who, note in steps
        ]

    def contact(
        self, case: _Case, author: User, at: datetime, *, successful: bool, first: bool = False
    ) -> Contact:
        rng = self.rng
        result = ContactResult.SPOKE
        if not successful:
            method = rng.choice((ContactMethod.PHONE, ContactMethod.PHONE, ContactMethod.TEXT))
            minutes, notes = 5, "No answer; left a message."
            result = (
                ContactResult.LEFT_MESSAGE
                if method == ContactMethod.PHONE
                else ContactResult.MESSAGE_SENT
            )
        elif first:
            method, minutes = ContactMethod.PHONE, rng.randint(15, 40)
            notes = "Introductory call: explained the service and checked consent."
        else:
            method = rng.choices(
                (
                    ContactMethod.PHONE,
                    ContactMethod.HOME_VISIT,
                    ContactMethod.VIDEO,
                    ContactMethod.VENUE,
                    ContactMethod.ACCOMPANIED,
                ),
                weights=(50, 20, 5, 15, 10),
            )[0]
            low, high = {
                ContactMethod.PHONE: (10, 45),
                ContactMethod.HOME_VISIT: (45, 90),
                ContactMethod.VIDEO: (20, 45),
                ContactMethod.VENUE: (30, 90),
                ContactMethod.ACCOMPANIED: (60, 90),
            }[method]
            minutes, notes = rng.randint(low, high), rng.choice(_CONTACT_NOTES)
        concern = successful and not first and rng.random() < 0.012
        return Contact(
            referral_id=case.referral.id,
            author_id=author.id,
            occurred_at=at,
            method=method,
            duration_minutes=minutes,
            successful=successful,
            result=result,
            notes=notes,
            concern_raised=concern,
            safeguarding_note=(
                "Said a relative has been taking money from them. Discussed with the hub's "
                "safeguarding lead the same day."
                if concern
                else None
            ),
            created_at=at,
            updated_at=at,
        )

    def contacts_for(self, case: _Case) -> list[Contact]:
        rng = self.rng
        referral = case.referral
        hub = rng.choice(self.coordinators)
        out: list[Contact] = []
        if referral.first_contact_at is None:
            # Still trying, or gave up: attempts only.
            if case.status == ReferralStatus.RECEIVED:
                return out
            end = referral.closed_at or self.latest
            t = referral.received_at
            for _ in range(3 if referral.closed_at else rng.randint(1, 3)):
                t = min(t + timedelta(days=rng.randint(1, 4), minutes=rng.randint(10, 90)), end)
                out.append(self.contact(case, hub, t, successful=False))
            return out
        if rng.random() < 0.3:
            attempt = referral.received_at + (referral.first_contact_at - referral.received_at) / 2
            out.append(self.contact(case, hub, attempt, successful=False))
        out.append(self.contact(case, hub, referral.first_contact_at, successful=True, first=True))
        if referral.assigned_at is None or case.navigator is None:
            return out

        navigator = case.navigator
        if referral.closed_at is not None:
            end = referral.closed_at
        elif case.stale:
            end = self.midnight - timedelta(days=rng.randint(17, 30))
        else:
            end = self.midnight - timedelta(days=3)
        t = referral.assigned_at
        if case.status == ReferralStatus.ASSIGNED:
            # Newly allocated: the navigator's first call, answered or not.
            out.append(self.contact(case, navigator, t, successful=rng.random() < 0.7))
            return out
        out.append(self.contact(case, navigator, t, successful=True))
        while True:
            t = t + timedelta(days=rng.randint(6, 16), minutes=rng.randint(-120, 120))
            if t >= end:
                break
            out.append(self.contact(case, navigator, t, successful=rng.random() < 0.85))
        if referral.closed_at is not None:
            out.append(self.contact(case, navigator, referral.closed_at, successful=True))
        elif case.status == ReferralStatus.ACTIVE:
            if case.stale:
                # Tried recently, but no successful contact for over two weeks.
                out.append(
                    self.contact(case, navigator, self.at(rng.randint(2, 5)), successful=False)
                )
            else:
                last = max(c.occurred_at for c in out)
                recent = max(last, self.at(rng.randint(1, 9)))
                out.append(self.contact(case, navigator, recent, successful=True))
        return out

    def goals_for(self, case: _Case) -> list[Goal]:
        rng = self.rng
        referral = case.referral
        if referral.assigned_at is None or case.navigator is None:
            return []
        if case.status == ReferralStatus.ASSIGNED and rng.random() < 0.5:
            return []
        end = (referral.closed_at or self.latest).date()
        set_on = min(self.later(referral.assigned_at, 0, 10).date(), end)
        out = []
        descriptions = []
        for reason in case.reasons:
            descriptions.append(rng.choice(_GOALS[reason]))
        for description in descriptions[: rng.randint(1, 3)]:
            if referral.closed_at is not None:
                if case.closure in (ClosureReason.GOALS_MET, ClosureReason.CONNECTED):
                    status = rng.choices(
                        (GoalStatus.ACHIEVED, GoalStatus.DROPPED), weights=(85, 15)
                    )[0]
                else:
                    status = rng.choices(
                        (GoalStatus.ACHIEVED, GoalStatus.DROPPED), weights=(25, 75)
                    )[0]
            else:
                status = rng.choices(list(GoalStatus), weights=(70, 20, 10))[0]
            closed_on = None
            if status != GoalStatus.OPEN:
                span = (end - set_on).days
                closed_on = set_on + timedelta(days=rng.randint(0, max(span, 0)))
            out.append(
                Goal(
                    referral_id=referral.id,
                    description=description,
                    status=status,
                    set_on=set_on,
                    closed_on=closed_on,
                    created_by_id=case.navigator.id,
                    created_at=min(datetime.combine(set_on, time(11, 0), tzinfo=UTC), self.latest),
                )
            )
        return out

    def measure_set(
        self, case: _Case, stage: Stage, at: datetime, lift: int
    ) -> list[MeasureResponse]:
        """ONS4, SWEMWBS and UCLA-3 at one stage; `lift` moves answers towards wellbeing."""
        rng = self.rng

        def clamp(value: int, low: int, high: int) -> int:
            return max(low, min(high, value))

        out = []
        for scale in Scale:
            declined = rng.random() < 0.06
            answers: list[int] | None = None
            score: float | None = None
            if scale == Scale.ONS4:
                good = [clamp(rng.randint(2, 6) + lift * 2, 0, 10) for _ in range(3)]
                anxiety = clamp(rng.randint(4, 9) - lift * 2, 0, 10)
                answers = [*good, anxiety]
            elif scale == Scale.SWEMWBS:
                answers = [clamp(rng.randint(1, 3) + lift, 1, 5) for _ in range(7)]
                score = scales.score(scale, answers)
            else:
                answers = [clamp(rng.randint(2, 3) - lift, 1, 3) for _ in range(3)]
                score = float(sum(answers))
            out.append(
                MeasureResponse(
                    referral_id=case.referral.id,
                    scale=scale,
                    stage=stage,
                    answers=None if declined else answers,
                    score=None if declined else score,
                    declined=declined,
                    recorded_by_id=case.navigator.id,
                    recorded_at=at,
                )
            )
        return out

    def measures_for(self, case: _Case) -> list[MeasureResponse]:
        rng = self.rng
        referral = case.referral
        if referral.assigned_at is None or case.navigator is None:
            return []
        chance = {ReferralStatus.ASSIGNED: 0.4}.get(case.status, 0.85)
        if rng.random() >= chance:
            return []
        end = referral.closed_at or self.latest
        baseline_at = min(self.later(referral.assigned_at, 0, 7), end)
        out = self.measure_set(case, Stage.BASELINE, baseline_at, 0)
        if case.status == ReferralStatus.ACTIVE and (
            self.midnight - referral.assigned_at > timedelta(days=90) and rng.random() < 0.5
        ):
            out += self.measure_set(case, Stage.REVIEW, self.later(baseline_at, 60, 80), 1)
        closing = (ClosureReason.CONNECTED, ClosureReason.GOALS_MET, ClosureReason.REFERRED_ON)
        if case.closure in closing and rng.random() < 0.85:
            out += self.measure_set(case, Stage.CLOSING, referral.closed_at, rng.randint(1, 2))
        return out

    # --- activities and buddies --------------------------------------------------------------

    @staticmethod
    def _first_session(days, created) -> date:
        day = created.date()
        while day.weekday() != min(days):
            day += timedelta(days=1)
        return day

    def activity_referrals(self) -> None:
        rng = self.rng
        S = ActivityReferralStatus
        verified = {
            o.id for o, (_, ok, _) in zip(self.organisations, _ORGANISATIONS, strict=True) if ok
        }
        published = [
            a
            for a in self.activities
            if a.status == ActivityStatus.PUBLISHED and a.organisation_id in verified
        ]
        referable = [a for a in published if a.accepts_referrals]
        demo_org_activities = [
            a for a in referable if a.organisation_id == self.organisations[0].id
        ]
        rows: list[ActivityReferral] = []
        # Answers and attendance are recorded by the organisation's member, where it has one.
        activity_members = dict(
            db.session.execute(
                sa.select(User.organisation_id, sa.func.min(User.id))
                .where(User.organisation_id.is_not(None))
                .group_by(User.organisation_id)
            ).all()
        )

        def pick(case: _Case, pool: list[Activity]) -> Activity:
            wanted = {c.value for r in case.reasons for c in _REASON_CATEGORIES[r]}
            fits = [a for a in pool if wanted & set(a.categories)]
            return rng.choice(fits or pool)

        def add(case: _Case, activity: Activity, status: ActivityReferralStatus) -> None:
            referral = case.referral
            end = referral.closed_at or self.latest
            if status == S.SENT:
                # Sent in the last week or so, so most are still within their answer window.
                created = max(referral.assigned_at, self.at(rng.randint(1, 9)))
            else:
                created = min(self.later(referral.assigned_at, 1, 20), end)
            sent = None
            responded = None
            if status not in (S.SUGGESTED, S.SIGNPOSTED):
                sent = min(created + timedelta(minutes=rng.randint(10, 600)), end)
            if status in (S.ACCEPTED, S.DECLINED, S.ATTENDED, S.STOPPED):
                responded = min(self.later(sent, 1, 6), end)
            person = referral.resident
            shared = sent is not None
            link = ActivityReferral(
                referral_id=referral.id,
                activity_id=activity.id,
                status=status,
                decline_reason=rng.choice(_DECLINE_REASONS) if status == S.DECLINED else None,
                respond_by=add_working_days(sent.date(), 10) if sent else None,
                consent_confirmed=shared,
                person_name=person.full_name if shared else None,
                shared_phone=person.phone if shared and rng.random() < 0.9 else None,
                shared_age=(
                    (created.date() - person.date_of_birth).days // 365
                    if shared and person.date_of_birth and rng.random() < 0.5
                    else None
                ),
                shared_note=rng.choice(_SHARED_NOTES) if shared and rng.random() < 0.6 else None,
                created_by_id=case.navigator.id,
                created_at=created,
                sent_at=sent,
                responded_at=responded,
                responded_by_id=activity_members.get(activity.organisation_id)
                if responded
                else None,
            )
            if status in (S.ATTENDED, S.STOPPED) and responded:
                # Weekly sessions from a few days after the answer, up to the case's end.
                session = min(responded.date() + timedelta(days=rng.randint(2, 8)), end.date())
                for _ in range(rng.randint(1, 6)):
                    if session > end.date():
                        break
                    link.attendance.append(
                        ActivityAttendance(
                            session_on=session,
                            attended=rng.random() < 0.85,
                            recorded_by_id=activity_members.get(activity.organisation_id)
                            or case.navigator.id,
                            recorded_at=datetime.combine(session, time(17), tzinfo=UTC),
                        )
                    )
                    session += timedelta(days=7)
                if link.attendance:
                    link.attendance[0].attended = True
            if status == S.STOPPED:
                link.ended_at = min(self.later(responded or created, 20, 60), end)
                link.end_reason = rng.choice(_STOP_REASONS)
            rows.append(link)

        open_statuses = (
            S.SUGGESTED,
            S.SENT,
            S.ACCEPTED,
            S.DECLINED,
            S.ATTENDED,
            S.STOPPED,
            S.SIGNPOSTED,
        )
        for case in self.cases:
            referral = case.referral
            if referral.assigned_at is None or case.navigator is None:
                continue
            if case.status == ReferralStatus.ACTIVE:
                chance, statuses, weights = 0.65, open_statuses, (2, 2, 2, 1, 4, 1, 1)
            elif case.status == ReferralStatus.ASSIGNED:
                chance, statuses, weights = 0.25, (S.SUGGESTED, S.SENT), (2, 1)
            elif case.closure == ClosureReason.CONNECTED:
                chance, statuses, weights = 1.0, (S.ATTENDED, S.STOPPED, S.SIGNPOSTED), (6, 1, 1)
            elif case.closure == ClosureReason.GOALS_MET:
                chance, statuses, weights = 0.5, (S.ATTENDED, S.SIGNPOSTED, S.DECLINED), (4, 2, 1)
            else:
                chance, statuses, weights = 0.15, (S.SIGNPOSTED, S.DECLINED), (1, 1)
            if rng.random() >= chance:
                continue
            used: set[int] = set()
            for _ in range(rng.choices((1, 2), weights=(65, 35))[0]):
                status = rng.choices(statuses, weights=weights)[0]
                pool = published if status in (S.SUGGESTED, S.SIGNPOSTED) else referable
                activity = pick(case, [a for a in pool if a.id not in used] or pool)
                used.add(activity.id)
                add(case, activity, status)

        # The demo organisation always has referrals waiting for its answer.
        active = [c for c in self.cases if c.status == ReferralStatus.ACTIVE]
        for case in rng.sample(active, 3):
            add(case, rng.choice(demo_org_activities), S.SENT)
        db.session.add_all(rows)

    def buddy_matches(self) -> None:
        rng = self.rng
        M = BuddyMatchStatus
        buddies = [
            v for v in self.volunteer_rows if v.status == VolunteerStatus.ACTIVE and v.role_buddy
        ]
        load = {id(v): 0 for v in buddies}
        rows: list[BuddyMatch] = []

        def add(case: _Case, volunteer: Volunteer, status: BuddyMatchStatus) -> None:
            referral = case.referral
            end = referral.closed_at or self.latest
            if status == M.PROPOSED:
                proposed = max(referral.assigned_at, self.at(rng.randint(1, 6)))
            else:
                proposed = min(self.later(referral.assigned_at, 2, 20), end)
            responded = None if status == M.PROPOSED else min(self.later(proposed, 1, 4), end)
            ended = None
            if status == M.ENDED:
                ended = max(responded, min(self.later(responded, 30, 120), end))
            if status in (M.PROPOSED, M.ACTIVE):
                load[id(volunteer)] += 1
            rows.append(
                BuddyMatch(
                    referral_id=referral.id,
                    volunteer_id=volunteer.id,
                    status=status,
                    proposed_by_id=rng.choice([*self.coordinators, case.navigator]).id,
                    proposed_at=proposed,
                    responded_at=responded,
                    ended_at=ended,
                    end_reason=(
                        rng.choice(("Support came to a natural end", "The person moved away"))
                        if status == M.ENDED
                        else None
                    ),
                    decline_reason=(
                        rng.choice(("Too far for me to travel", "I am away for most of next month"))
                        if status == M.DECLINED
                        else None
                    ),
                )
            )

        lonely = [
            c
            for c in self.cases
            if c.navigator is not None
            and c.referral.assigned_at is not None
            and ReferralReason.LONELINESS in c.reasons
        ]
        open_lonely = [
            c for c in lonely if c.status in (ReferralStatus.ACTIVE, ReferralStatus.ASSIGNED)
        ]
        # The demo volunteer buddies one person and has a new match waiting for their answer.
        demo = self.demo_volunteer
        active_lonely = [c for c in open_lonely if c.status == ReferralStatus.ACTIVE]
        demo_active, demo_proposed = active_lonely[0], open_lonely[-1]
        add(demo_active, demo, M.ACTIVE)
        add(demo_proposed, demo, M.PROPOSED)
        taken = {id(demo_active), id(demo_proposed)}
        others = [v for v in buddies if v is not demo]
        for case in lonely:
            if id(case) in taken:
                continue
            if case.status == ReferralStatus.CLOSED:
                if case.closure not in (ClosureReason.CONNECTED, ClosureReason.GOALS_MET):
                    continue
                if rng.random() < 0.4:
                    add(case, rng.choice(others), M.ENDED)
                continue
            if rng.random() >= 0.5:
                continue
            status = rng.choices((M.ACTIVE, M.PROPOSED, M.DECLINED), weights=(6, 2, 1))[0]
            free = [v for v in others if load[id(v)] < v.max_buddies]
            if not free:
                continue
            volunteer = rng.choice(free)
            add(case, volunteer, status)
            if status == M.DECLINED:
                free = [v for v in others if load[id(v)] < v.max_buddies and v is not volunteer]
                if free:
                    add(case, rng.choice(free), M.ACTIVE)
        db.session.add_all(rows)
        self._buddy_rows = rows
