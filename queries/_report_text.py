"""The words of the reports, in English and Swedish. Values from the log (purposes, categories,
organisations) are shown as recorded; only headings and labels are translated."""

from __future__ import annotations

LANGS = ("en", "sv")

TEXT: dict[str, dict[str, str]] = {
    "access_title": {"en": "Access report (GDPR Art. 15)", "sv": "Registerutdrag enligt artikel 15 GDPR"},
    "complaint_title": {
        "en": "Response to a complaint: processing of one data subject's personal data",
        "sv": "Yttrande över klagomål: behandling av en registrerads personuppgifter",
    },
    "subject": {"en": "Data subject", "sv": "Den registrerade"},
    "period": {"en": "Period", "sv": "Period"},
    "whole_log": {"en": "the whole log", "sv": "hela loggen"},
    "generated": {"en": "Generated", "sv": "Upprättad"},
    "reference": {"en": "Reference", "sv": "Diarienummer"},
    "purposes": {"en": "Purposes and legal bases", "sv": "Ändamål och rättslig grund"},
    "categories": {"en": "Categories of personal data", "sv": "Kategorier av personuppgifter"},
    "recipients": {"en": "Recipients", "sv": "Mottagare"},
    "retention": {"en": "Retention", "sv": "Lagringstid"},
    "sources": {"en": "Where the data came from", "sv": "Varifrån uppgifterna kommer"},
    "credit_checks": {"en": "Credit checks", "sv": "Kreditupplysningar"},
    "consent": {"en": "Consent", "sv": "Samtycken"},
    "lineage": {"en": "Data flows", "sv": "Dataflöden"},
    "accesses": {"en": "Who accessed the data", "sv": "Vem har tagit del av uppgifterna"},
    "events": {"en": "Event history", "sv": "Händelsehistorik"},
    "dpo_lookups": {
        "en": "The data protection officer's lookups in the audit log",
        "sv": "Dataskyddsombudets sökningar i granskningsloggen",
    },
    "timeline": {
        "en": "Timeline, with the legal basis of each act",
        "sv": "Tidslinje med rättslig grund för varje åtgärd",
    },
    "findings": {"en": "Findings", "sv": "Iakttagelser"},
    "integrity": {
        "en": "Integrity of the log and how to verify it",
        "sv": "Loggens integritet och hur den kan kontrolleras",
    },
    "none": {"en": "None recorded.", "sv": "Inga registrerade."},
    "controller": {"en": "Who is responsible for your data", "sv": "Vem som ansvarar för dina uppgifter"},
    "controller_is": {"en": "Controller", "sv": "Personuppgiftsansvarig"},
    "dpo": {"en": "Data protection officer", "sv": "Dataskyddsombud"},
    "register_purposes": {
        "en": "Why your data is processed, on what legal basis, and for how long",
        "sv": "Varför dina uppgifter behandlas, med vilken rättslig grund och hur länge",
    },
    "purposes_in_log": {"en": "Processing recorded in the log", "sv": "Behandling som finns i loggen"},
    "automated": {
        "en": "Automated decision-making (GDPR Art. 22)",
        "sv": "Automatiserat beslutsfattande (artikel 22 GDPR)",
    },
    "no_automated": {
        "en": "No decision about you was made by automated means alone.",
        "sv": "Inget beslut om dig har fattats enbart automatiskt.",
    },
    "rights": {"en": "Your rights", "sv": "Dina rättigheter"},
    "rights_how": {
        "en": "To use a right, write to the data protection officer at the address above.",
        "sv": "Kontakta dataskyddsombudet på adressen ovan för att använda en rättighet.",
    },
    "complaint": {
        "en": "Right to lodge a complaint",
        "sv": "Rätt att lämna klagomål",
    },
    "complaint_how": {
        "en": "If you think your data is processed against the GDPR, you may lodge a complaint with the "
        "supervisory authority:",
        "sv": "Om du anser att dina uppgifter behandlas i strid med GDPR kan du lämna klagomål till "
        "tillsynsmyndigheten:",
    },
    "not_declared": {"en": "not declared in the processing register", "sv": "finns inte i registret"},
    "no_findings": {"en": "No findings for this data subject.", "sv": "Inga iakttagelser för den registrerade."},
    "truncated": {
        "en": "Shortened: more rows than a report holds in",
        "sv": "Förkortad: fler rader än rapporten rymmer i",
    },
    "verify_result": {"en": "Verification result", "sv": "Resultat av kontrollen"},
    "intact": {"en": "intact", "sv": "oförändrad"},
    "not_intact": {"en": "NOT intact", "sv": "INTE oförändrad"},
    "how_verify": {
        "en": "The log is append-only and sealed by signed Merkle checkpoints (Ed25519). Anyone "
        "holding the public key can check it: the first command recomputes every signed checkpoint of the period "
        "from the stored rows, the second makes an inclusion proof for one event of this report, the third checks "
        "that proof offline with the public key alone:",
        "sv": "Loggen skrivs enbart till och förseglas med signerade Merkle-kontrollpunkter "
        "(Ed25519). Den som har den publika nyckeln kan kontrollera den: det första kommandot räknar om varje "
        "signerad kontrollpunkt för perioden från de lagrade raderna, det andra ger ett bevis för att en händelse "
        "i denna rapport finns i loggen, det tredje kontrollerar beviset fristående med enbart den publika nyckeln:",
    },
    "picture_headings": {"en": "Sources|Purposes|Recipients", "sv": "Källor|Ändamål|Mottagare"},
    "page": {"en": "page", "sv": "sida"},
    "proven": {
        "en": "{proven} of the subject's {total} events proven included under signed checkpoints",
        "sv": "{proven} av den registrerades {total} händelser bevisade ingå under signerade kontrollpunkter",
    },
}

COLUMNS: dict[str, dict[str, str]] = {
    "occurred_at": {"en": "When", "sv": "Tidpunkt"},
    "purpose": {"en": "Purpose", "sv": "Ändamål"},
    "legal_basis": {"en": "Legal basis", "sv": "Rättslig grund"},
    "legal_bases": {"en": "Legal bases", "sv": "Rättslig grund"},
    "data_categories": {"en": "Categories", "sv": "Kategorier"},
    "categories": {"en": "Categories", "sv": "Kategorier"},
    "first_at": {"en": "First", "sv": "Först"},
    "last_at": {"en": "Last", "sv": "Senast"},
    "events": {"en": "Events", "sv": "Händelser"},
    "recipient": {"en": "Recipient", "sv": "Mottagare"},
    "org_no": {"en": "Org. no.", "sv": "Org.nr"},
    "country": {"en": "Country", "sv": "Land"},
    "role": {"en": "Role", "sv": "Roll"},
    "purposes": {"en": "Purposes", "sv": "Ändamål"},
    "times": {"en": "Times", "sv": "Antal"},
    "category": {"en": "Category", "sv": "Kategori"},
    "last_processed": {"en": "Last processed", "sv": "Senast behandlad"},
    "retention_days": {"en": "Retention (days)", "sv": "Lagringstid (dagar)"},
    "due_at": {"en": "Due for erasure", "sv": "Ska gallras"},
    "status": {"en": "Status", "sv": "Status"},
    "source": {"en": "Source", "sv": "Källa"},
    "source_party": {"en": "From", "sv": "Från"},
    "bureau": {"en": "Bureau", "sv": "Kreditupplysningsföretag"},
    "reference": {"en": "Reference", "sv": "Referens"},
    "outcome": {"en": "Outcome", "sv": "Utfall"},
    "state": {"en": "State", "sv": "Status"},
    "changed_at": {"en": "Since", "sv": "Sedan"},
    "actor": {"en": "Actor", "sv": "Utförare"},
    "access_kind": {"en": "Access", "sv": "Åtkomst"},
    "event_type": {"en": "Event", "sv": "Händelse"},
    "detail": {"en": "Detail", "sv": "Detalj"},
    "kind": {"en": "Kind", "sv": "Typ"},
    "event_id": {"en": "Event id", "sv": "Händelse-id"},
    "retention": {"en": "Retention", "sv": "Lagringstid"},
    "recipients_where": {"en": "Recipients (country)", "sv": "Mottagare (land)"},
    "sources": {"en": "Sources", "sv": "Källor"},
    "description": {"en": "What it covers", "sv": "Vad det omfattar"},
    "address": {"en": "Address", "sv": "Adress"},
    "email": {"en": "E-mail", "sv": "E-post"},
    "phone": {"en": "Phone", "sv": "Telefon"},
    "web": {"en": "Web", "sv": "Webb"},
}

# A period as the register writes it ("3 years"), in Swedish.
PERIOD_SV = {"day": "dag", "days": "dagar", "month": "månad", "months": "månader", "year": "år", "years": "år"}


def period(written: str, lang: str) -> str:
    if lang != "sv" or " " not in written:
        return written
    n, unit = written.split(" ", 1)
    return f"{n} {PERIOD_SV.get(unit, unit)}"


# Values the reports themselves compute (not recorded in the log), so they are translated too.
VALUES: dict[str, dict[str, str]] = {
    "retained": {"en": "retained", "sv": "lagras"},
    "overdue": {"en": "overdue: should have been erased", "sv": "ska redan ha gallrats"},
    "erased": {"en": "erased", "sv": "raderad"},
    "not declared": {"en": "no period in the register", "sv": "ingen lagringstid i registret"},
    "unknown": {"en": "unknown (no register)", "sv": "okänd (inget register)"},
    "given": {"en": "given", "sv": "lämnat"},
    "withdrawn": {"en": "withdrawn", "sv": "återkallat"},
    "processor": {"en": "processor (acts on our behalf)", "sv": "personuppgiftsbiträde"},
    "controller": {"en": "controller in its own right", "sv": "självständigt personuppgiftsansvarig"},
    "authority": {"en": "public authority", "sv": "myndighet"},
}


# The labels the lineage graph makes itself (organisations, purposes and categories are the log's own).
GRAPH_SV: dict[str, str] = {
    "the data subject": "den registrerade",
    "use of the service": "användning av tjänsten",
    "a lead from a third party": "tips från tredje part",
    "a public register": "ett offentligt register",
    "a credit bureau": "ett kreditupplysningsföretag",
    "credit bureau": "kreditupplysningsföretag",
}

# Finding kinds in Swedish (the English descriptions come with the findings themselves).
FINDINGS_SV: dict[str, str] = {
    "consent_withdrawn": "behandling med stöd av samtycke efter att samtycket återkallats",
    "after_erasure": "behandling av raderade uppgifter efter raderingen",
    "during_restriction": "behandling medan behandlingen var begränsad",
    "purpose_not_registered": "ett ändamål som registret inte anger",
    "unregistered_recipient": "utlämnande till en mottagare som inte är registrerad för ändamålet",
    "basis_not_allowed": "en rättslig grund som registret inte tillåter för ändamålet",
    "category_not_declared": "en kategori av personuppgifter som inte anges för ändamålet",
    "role_not_allowed": "åtkomst av en roll som registret inte tillåter",
    "after_retention": "uppgifter som behandlas efter lagringstidens slut",
    "late_answer": "en begäran som inte besvarats inom en månad (artikel 12.3 GDPR)",
}


def finding_kind(row: dict[str, str], lang: str) -> str:
    if lang == "sv" and row.get("kind") in FINDINGS_SV:
        return FINDINGS_SV[row["kind"]]
    return row.get("description") or row.get("kind", "")


def value(word: str, lang: str) -> str:
    return VALUES.get(word, {}).get(lang, word)


def text(key: str, lang: str) -> str:
    return TEXT[key][lang]


def column(key: str, lang: str) -> str:
    return COLUMNS.get(key, {}).get(lang, key.replace("_", " "))
