"""Dutch and English for the merchant pages: the catalog, the words for the hub's states, the choice of language.

English text is the key (as with gettext); ``DUTCH`` translates it. Templates call ``t`` with the
English text and its values; Python marks its texts with ``N_`` so that a test can find them and
check that each has a Dutch translation. Two languages and about 150 texts do not need
gettext's .po/.mo files and their compile step. Messages that core writes (reasons, errors) are
shown in Dutch where ``CORE_DUTCH`` knows them; messages of core's catalog (``core.contract.errors.MESSAGES``,
which connectors use too) by their message code in ``CODED_DUTCH``, their parameters (the shop's own
words among them) kept as they are; any other message as it is.

The language is the ``hub_lang`` cookie (set by the switch), else the browser's Accept-Language,
else English.
"""

from __future__ import annotations

from collections.abc import Callable

from core.contract.errors import read_message

LANGUAGES = {"nl": "Nederlands", "en": "English"}
DEFAULT = "en"
COOKIE = "hub_lang"


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "mark for translation"
    """Mark a text for translation; it is translated where it is shown."""
    return text


#: Connection states.
STATE_NAMES = {
    "pending_authorization": N_("Waiting for authorisation"),
    "connected": N_("Connected"),
    "auth_required": N_("Reconnect needed"),
    "error": N_("Error"),
    "disabled": N_("Disabled"),
    "disconnected": N_("Disconnected"),
}

#: What the merchant can do about each connection state (core.usecases.lifecycle.ACTIONS, in the pages' words).
STATE_ACTIONS: dict[str, str | None] = {
    "pending_authorization": N_("Finish connecting on the shop's consent page, or start again with Connect."),
    "connected": None,
    "auth_required": N_("The shop no longer accepts the hub's access: click Reconnect."),
    "error": N_("The hub retries by itself; click Reconnect if it persists."),
    "disabled": N_("Click Enable to import and update tracking codes again."),
    "disconnected": None,
}

#: Import run states.
RUN_STATES = {
    "queued": N_("Waiting to start"),
    "running": N_("Importing"),
    "succeeded": N_("Finished"),
    "failed": N_("Failed"),
    "interrupted": N_("Interrupted"),
}

#: Tracking push states of a parcel.
PUSH_STATES = {
    "pending": N_("Sending to the shop"),
    "accepted": N_("Accepted by the shop, waiting for its confirmation"),
    "confirmed": N_("Confirmed by the shop"),
    "failed": N_("Not accepted by the shop"),
    "skipped": N_("Not sent to the shop"),
}

#: Where an order stands for the merchant (the Shipments filters; core.storage.orders.WORK_STATES).
WORK_STATES = {
    "to_ship": N_("To ship"),
    "attention": N_("Needs attention"),
    "shipped": N_("Shipped"),
    "cancelled": N_("Cancelled"),
}

#: A parcel still to send while its connection cannot push, by the connection's state: the badge...
WAITING = {
    "auth_required": N_("Waiting for a Reconnect"),
    "pending_authorization": N_("Waiting for a Reconnect"),
    "disabled": N_("Waiting: the integration is disabled"),
    "disconnected": N_("Not sent: the shop is disconnected"),
}
#: ... and what the merchant must do.
WAITING_ACTIONS = {
    "auth_required": N_(
        "The shop no longer accepts the hub's access: click Reconnect under Settings › All integrations. "
        "The tracking code is sent right after."
    ),
    "pending_authorization": N_(
        "The shop no longer accepts the hub's access: click Reconnect under Settings › All integrations. "
        "The tracking code is sent right after."
    ),
    "disabled": N_("Click Enable on the shop's Integration details page: the tracking code is sent right after."),
    "disconnected": N_("The hub no longer talks to this shop: enter the tracking code in the shop itself."),
}

#: Order statuses in the shop.
ORDER_STATES = {
    "open": N_("Open"),
    "partially_shipped": N_("Partially shipped"),
    "shipped": N_("Shipped"),
    "cancelled": N_("Cancelled"),
}

DUTCH: dict[str, str] = {
    # Layout and navigation
    "Carrier hub": "Vervoerder-hub",
    "Skip to content": "Naar de inhoud",
    "Language": "Taal",
    "Sign out": "Afmelden",
    "Main menu": "Hoofdmenu",
    "Settings": "Instellingen",
    "All integrations": "Alle integraties",
    "Shipping": "Verzenden",
    "Import from shop": "Importeer uit Shop",
    "Shipments": "Zendingen",
    "Back": "Terug",
    "Cancel": "Annuleren",
    "Save": "Opslaan",
    # Sign-in
    "Sign in": "Aanmelden",
    "API token": "API-token",
    "The token of your carrier account. An administrator creates one with the command hub accounts token.":
        "Het token van uw vervoerdersaccount. Een beheerder maakt er een aan met het commando hub accounts token.",
    "This API token is unknown or revoked. Check it, or ask an administrator for a new one.":
        "Dit API-token is onbekend of ingetrokken. Controleer het, of vraag een beheerder om een nieuw.",
    "You are signed out.": "U bent afgemeld.",
    "Choose Nederlands or English.": "Kies Nederlands of English.",
    # All integrations
    "Connect a shop to import its orders as shipments and to send tracking codes back.":
        "Koppel een shop om de bestellingen als zendingen te importeren en trackingcodes terug te sturen.",
    "This integration could not be loaded:": "Deze integratie kon niet worden geladen:",
    "Not connected": "Niet gekoppeld",
    "Connect": "Koppelen",
    "Connect another account": "Nog een account koppelen",
    "Reconnect": "Opnieuw koppelen",
    "No integrations are installed.": "Er zijn geen integraties geïnstalleerd.",
    "Waiting for authorisation": "Wacht op toestemming",
    "Connected": "Gekoppeld",
    "Reconnect needed": "Opnieuw koppelen nodig",
    "Error": "Fout",
    "Disabled": "Uitgeschakeld",
    "Disconnected": "Ontkoppeld",
    "Finish connecting on the shop's consent page, or start again with Connect.":
        "Rond het koppelen af op de toestemmingspagina van de shop, of begin opnieuw met Koppelen.",
    "The shop no longer accepts the hub's access: click Reconnect.":
        "De shop accepteert de toegang van de hub niet meer: klik op Opnieuw koppelen.",
    "The hub retries by itself; click Reconnect if it persists.":
        "De hub probeert het zelf opnieuw; klik op Opnieuw koppelen als het zo blijft.",
    "Click Enable to import and update tracking codes again.":
        "Klik op Inschakelen om weer te importeren en trackingcodes te updaten.",
    "Enable": "Inschakelen",
    "This shop is disabled: enable it on its Integration details page first.":
        "Deze shop is uitgeschakeld: schakel hem eerst in op de pagina Integratie details.",
    "Disable": "Uitschakelen",
    "Disabling pauses imports and tracking updates and keeps the shop's credentials; enable it again at any time.":
        "Uitschakelen pauzeert het importeren en het updaten van trackingcodes en bewaart de toegang tot de shop; "
        "u kunt de koppeling altijd weer inschakelen.",
    "Settings saved.": "Instellingen opgeslagen.",
    "Disconnected. The orders imported before stay.": "Ontkoppeld. De eerder geïmporteerde bestellingen blijven bewaard.",
    # Connect
    "Connect {name}": "{name} koppelen",
    "You will be sent to {name} to sign in and to allow the carrier access. Afterwards you come back here.":
        "U gaat naar {name} om in te loggen en de vervoerder toegang te geven. Daarna komt u hier terug.",
    "Continue to {name}": "Verder naar {name}",
    "Reconnect {name}": "{name} opnieuw koppelen",
    "optional": "optioneel",
    "Where to find it": "Waar u dit vindt",
    "New credentials for the same shop account: {account}.": "Nieuwe inloggegevens voor hetzelfde shopaccount: {account}.",
    "{name} checks these details before anything is stored. Secret values are never shown again.":
        "{name} controleert deze gegevens voordat er iets wordt bewaard. Geheime waarden worden nooit meer getoond.",
    "{label}: fill this in.": "{label}: vul dit in.",
    "{label}: choose one from the list.": "{label}: kies er een uit de lijst.",
    "{label}: at most {max} characters, without line breaks or control characters.":
        "{label}: hoogstens {max} tekens, zonder regeleinden of stuurtekens.",
    "The shop did not accept these details:": "De shop accepteerde deze gegevens niet:",
    "Netherlands": "Nederland",
    "Germany": "Duitsland",
    "France": "Frankrijk",
    "Italy": "Italië",
    "Spain": "Spanje",
    "United Kingdom": "Verenigd Koninkrijk",
    "Belgium": "België",
    "Poland": "Polen",
    "Sweden": "Zweden",
    "Ireland": "Ierland",
    # Connect result
    "{name} is connected to your carrier account.": "{name} is gekoppeld aan uw vervoerdersaccount.",
    "Next: tick “Update the tracking code in the shop” in the integration details, then import your orders.":
        "Vink hierna „Update de trackingcode in de shop” aan in de integratie details en importeer dan uw bestellingen.",
    "Tracking codes go to the shop as soon as labels are created (“Update the tracking code in the shop” is ticked). "
    "Next: import your orders.":
        "Trackingcodes gaan naar de shop zodra er labels zijn aangemaakt („Update de trackingcode in de shop” is "
        "aangevinkt). Importeer nu uw bestellingen.",
    "Back to all integrations": "Terug naar alle integraties",
    "You declined the authorisation in the shop, so nothing was connected. Click Connect to try again.":
        "U heeft de toestemming in de shop geweigerd, dus er is niets gekoppeld. Klik op Koppelen om het opnieuw te proberen.",
    "The link has expired": "De link is verlopen",
    "The authorisation took too long or this link was used already. Start again with Connect.":
        "De toestemming duurde te lang of deze link is al gebruikt. Begin opnieuw met Koppelen.",
    "The shop's answer could not be used:": "Het antwoord van de shop kon niet worden gebruikt:",
    "Cannot re-authorise": "Opnieuw toestemming geven lukt niet",
    # Integration details
    "Integration details": "Integratie details",
    "State": "Status",
    "What to do": "Wat te doen",
    "Shop account": "Shopaccount",
    "Marketplaces": "Marktplaatsen",
    "Last import": "Laatste import",
    "{new} imported, {updated} updated, {skipped} skipped": "{new} geïmporteerd, {updated} bijgewerkt, {skipped} overgeslagen",
    "Not yet": "Nog niet",
    "Connected since": "Gekoppeld sinds",
    "Update the tracking code in the shop": "Update de trackingcode in de shop",
    "When ticked, the hub sends the tracking code to the shop the moment a label is created, and the shop marks the order shipped.":
        "Als dit is aangevinkt, stuurt de hub de trackingcode naar de shop zodra er een label is aangemaakt, "
        "en zet de shop de bestelling op verzonden.",
    "Import new orders every (minutes)": "Nieuwe bestellingen importeren elke (minuten)",
    "Connection": "Koppeling",
    "Disconnecting stops imports and tracking updates and forgets the shop's credentials. Imported orders stay.":
        "Ontkoppelen stopt de imports en trackingupdates en vergeet de toegangsgegevens van de shop. "
        "Geïmporteerde bestellingen blijven bewaard.",
    "Yes, disconnect {name}": "Ja, ontkoppel {name}",
    "Disconnect": "Ontkoppelen",
    "“Update the tracking code in the shop” is either ticked or not.":
        "„Update de trackingcode in de shop” is aangevinkt of niet.",
    "Import orders from these marketplaces": "Bestellingen importeren van deze marktplaatsen",
    "Tick at least one marketplace to import orders from.": "Vink minstens één marktplaats aan om bestellingen van te importeren.",
    "The import interval must be a whole number of minutes from 1 to 1440.":
        "Het importinterval moet een heel aantal minuten zijn, van 1 tot 1440.",
    "Tick “Yes, disconnect” to confirm; nothing was changed.": "Vink „Ja, ontkoppel” aan om te bevestigen; er is niets gewijzigd.",
    # Import from shop
    "Imports the orders that still need shipping as shipments, with recipient and items. Nothing is imported twice.":
        "Importeert de bestellingen die nog verzonden moeten worden als zendingen, met ontvanger en artikelen. "
        "Niets wordt twee keer geïmporteerd.",
    "Start import": "Import starten",
    "No shop is connected yet.": "Er is nog geen shop gekoppeld.",
    "Connect one under Settings › All integrations.": "Koppel er een onder Instellingen › Alle integraties.",
    "Progress": "Voortgang",
    "pages read:": "pagina's gelezen:",
    "Result": "Resultaat",
    "Imported": "Geïmporteerd",
    "Updated": "Bijgewerkt",
    "Unchanged": "Ongewijzigd",
    "Skipped": "Overgeslagen",
    "Skipped orders by reason": "Overgeslagen bestellingen per reden",
    "Reason": "Reden",
    "Orders": "Bestellingen",
    "See the shipments": "Naar de zendingen",
    "Start another import": "Nog een import starten",
    "Choose the shop to import from.": "Kies de shop om uit te importeren.",
    "This shop is not connected: reconnect it under Settings › All integrations first.":
        "Deze shop is niet gekoppeld: koppel hem eerst opnieuw onder Instellingen › Alle integraties.",
    "Waiting to start": "Wacht op start",
    "Importing": "Bezig met importeren",
    "Finished": "Klaar",
    "Failed": "Mislukt",
    "Interrupted": "Onderbroken",
    "Nothing new: the {count} orders the shop sent are here already, unchanged.":
        "Niets nieuws: de {count} bestellingen die de shop stuurde staan hier al, ongewijzigd.",
    "Nothing to ship: the shop's orders were all skipped, for the reasons below.":
        "Niets te verzenden: de bestellingen van de shop zijn allemaal overgeslagen, om de redenen hieronder.",
    "Nothing new: no order was created or changed in the shop since the previous import. "
    "The hub imports every {minutes} minutes by itself.":
        "Niets nieuws: er is sinds de vorige import geen bestelling in de shop bijgekomen of gewijzigd. "
        "De hub importeert zelf elke {minutes} minuten.",
    "Nothing to import: the shop has no orders that still need shipping. "
    "Orders it gets later arrive with the next import; the hub imports every {minutes} minutes by itself.":
        "Niets te importeren: de shop heeft geen bestellingen die nog verzonden moeten worden. "
        "Latere bestellingen komen met de volgende import; de hub importeert zelf elke {minutes} minuten.",
    # Shipments
    "Show": "Toon",
    "All shipments": "Alle zendingen",
    "To ship": "Te verzenden",
    "Needs attention": "Actie nodig",
    "Partially shipped": "Deels verzonden",
    "Open": "Open",
    "Shipped": "Verzonden",
    "Cancelled": "Geannuleerd",
    "Search": "Zoeken",
    "Clear the search": "Zoekopdracht wissen",
    "An order number, or the recipient's name, city or postal code (whole words).":
        "Een bestelnummer, of de naam, plaats of postcode van de ontvanger (hele woorden).",
    "Shop": "Shop",
    "Order number": "Bestelnummer",
    "Order date": "Besteldatum",
    "Ship by": "Verzenden vóór",
    "Deliver by": "Bezorgen vóór",
    "deliver by {day}": "bezorgen vóór {day}",
    "Late": "Te laat",
    "Status": "Status",
    "Tracking": "Tracking",
    "and {count} more": "en nog {count}",
    "No shipments match “{search}” here.": "Geen zendingen hier gevonden voor „{search}”.",
    "Search all shipments": "Zoek in alle zendingen",
    "Nothing to ship.": "Niets te verzenden.",
    "Import new orders under Shipping › Import from shop.": "Importeer nieuwe bestellingen onder Verzenden › Importeer uit Shop.",
    "No shipments here.": "Hier zijn geen zendingen.",
    "Pages": "Pagina's",
    "First page": "Eerste pagina",
    "Previous page": "Vorige pagina",
    "Order {reference}": "Bestelling {reference}",
    "Your reference": "Uw referentie",
    "In the shop": "In de shop",
    "Recipient": "Ontvanger",
    "No address (removed after shipping, or not shared by the shop).":
        "Geen adres (verwijderd na verzending, of niet gedeeld door de shop).",
    "Items": "Artikelen",
    "Item": "Artikel",
    "Ordered": "Besteld",
    "Unshipped in the shop": "Onverzonden in de shop",
    "Label and tracking": "Label en tracking",
    "Message from the shop:": "Bericht van de shop:",
    "Retry": "Opnieuw proberen",
    "No label yet.": "Nog geen label.",
    "Tracking number": "Trackingnummer",
    "Create label": "Label aanmaken",
    "Letters, digits and dashes. Stands in for the label the carrier platform creates.":
        "Letters, cijfers en streepjes. Staat voor het label dat het vervoerdersplatform aanmaakt.",
    "Back to Shipments": "Terug naar Zendingen",
    "Next page": "Volgende pagina",
    "Waiting for a Reconnect": "Wacht op opnieuw koppelen",
    "Waiting: the integration is disabled": "Wacht: de integratie is uitgeschakeld",
    "Not sent: the shop is disconnected": "Niet verstuurd: de shop is ontkoppeld",
    "The shop no longer accepts the hub's access: click Reconnect under Settings › All integrations. "
    "The tracking code is sent right after.":
        "De shop accepteert de toegang van de hub niet meer: klik op Opnieuw koppelen onder Instellingen › "
        "Alle integraties. De trackingcode wordt direct daarna verstuurd.",
    "Click Enable on the shop's Integration details page: the tracking code is sent right after.":
        "Klik op Inschakelen op de pagina Integratie details van de shop: de trackingcode wordt direct daarna verstuurd.",
    "The hub no longer talks to this shop: enter the tracking code in the shop itself.":
        "De hub heeft geen verbinding meer met deze shop: vul de trackingcode in de shop zelf in.",
    "Label created.": "Label aangemaakt.",
    "The tracking code is sent to the shop again.": "De trackingcode wordt opnieuw naar de shop gestuurd.",
    "Choose which shipments to show from the list.": "Kies uit de lijst welke zendingen u wilt zien.",
    "The page link is broken: open Shipments again.": "De paginalink klopt niet: open Zendingen opnieuw.",
    "A tracking number has 1 to 64 letters, digits or dashes.": "Een trackingnummer heeft 1 tot 64 letters, cijfers of streepjes.",
    "Sending to the shop": "Wordt naar de shop gestuurd",
    "Accepted by the shop, waiting for its confirmation": "Geaccepteerd door de shop, wacht op bevestiging",
    "Confirmed by the shop": "Bevestigd door de shop",
    "Not accepted by the shop": "Niet geaccepteerd door de shop",
    "Not sent to the shop": "Niet naar de shop gestuurd",
    # Errors
    "That did not work": "Dat lukte niet",
    "Form refused": "Formulier geweigerd",
    "Not found": "Niet gevonden",
    "Not possible now": "Nu niet mogelijk",
    "This page does not exist, or it belongs to another account.": "Deze pagina bestaat niet, of hoort bij een ander account.",
    "Something went wrong": "Er ging iets mis",
    "This form was not sent from this page or is out of date, so nothing was changed. Reload the page and try again.":
        "Dit formulier kwam niet van deze pagina of is verouderd, dus er is niets gewijzigd. "
        "Laad de pagina opnieuw en probeer het nog eens.",
    "Something went wrong in the hub; it was logged. Try again later.":
        "Er ging iets mis in de hub; dat is vastgelegd. Probeer het later nog eens.",
}

#: Reasons and messages written by core and the connectors that the pages show often.
CORE_DUTCH: dict[str, str] = {
    "authorised by the merchant": "toestemming gegeven door de handelaar",
    "waiting for the merchant to authorise": "wacht op toestemming van de handelaar",
    "disconnected by the merchant": "ontkoppeld door de handelaar",
    "disabled by the merchant": "uitgeschakeld door de handelaar",
    "enabled by the merchant": "ingeschakeld door de handelaar",
    "an import succeeded again": "een import is weer gelukt",
    "check passed": "controle geslaagd",
    "new credentials checked with the shop": "nieuwe inloggegevens gecontroleerd bij de shop",
    "credentials checked with the shop": "inloggegevens gecontroleerd bij de shop",
    "updating the tracking code in the shop is off": "het updaten van de trackingcode in de shop staat uit",
}


#: core.contract.errors.MESSAGES in Dutch, by message code (a test checks that every code is here, with
#: the same parameters).
CODED_DUTCH: dict[str, str] = {
    "consent_declined": "De toestemming is geweigerd of geannuleerd in {place}; klik op Koppelen om het opnieuw te proberen.",
    "link_expired": "De toestemmingslink is verlopen of al gebruikt: begin opnieuw met Koppelen.",
    "link_invalid": "De toestemmingslink is ongeldig: begin opnieuw met Koppelen.",
    "code_expired": "De toestemmingscode van {shop} is verlopen of al gebruikt; klik op Koppelen om het opnieuw te proberen.",
    "credentials_refused": "{shop} weigerde deze inloggegevens: {reason}",
    "access_refused": (
        "{shop} weigerde de toegang van deze koppeling ({reason}). Koppel {shop} opnieuw onder Instellingen › Alle integraties."
    ),
    "access_revoked": (
        "{shop} accepteert de toestemming van deze koppeling niet meer (ingetrokken in {place} of verlopen). "
        "Koppel {shop} opnieuw onder Instellingen › Alle integraties."
    ),
    "shop_not_answering": "{shop} antwoordt nu niet goed; de hub probeert het later opnieuw.",
    "shop_silent": "{shop} antwoordde niet; de hub probeert het opnieuw.",
    "shop_throttled": "{shop} remde de hub af; de hub probeert het zo opnieuw.",
    "rate_plan_used_up": "De rate limit van {shop} voor dit account is op; de hub gaat later verder.",
    "request_rejected": "{shop} weigerde het verzoek: {reason}",
    "import_stopped": "Koppeling {connection} werd {state} tijdens de import; de import is gestopt.",
    "import_interrupted": "de import is onderbroken",
    "tracking_rejected": "{shop} weigerde de trackingcode: {reason}",
    "tracking_off": "het updaten van de trackingcode in de shop staat uit",
    "tracking_retry": "wordt opnieuw geprobeerd",
    "not_settled": (
        "De shop bevestigde dit pakket niet binnen {hours} uur; met Opnieuw proberen zoekt de hub het opnieuw op bij de shop."
    ),
    "credentials_revoked": (
        "{shop} accepteert de client credentials van deze koppeling niet meer. Maak nieuwe client credentials aan in "
        "{place} en koppel {shop} opnieuw onder Instellingen › Alle integraties."
    ),
    "access_forbidden": (
        "{shop} weigerde de toegang ({reason}). Controleer in {place} dat het account actief is en dat de credentials "
        "bestellingen mogen lezen en zendingen mogen aanmaken, en koppel {shop} daarna opnieuw."
    ),
    "client_refused": (
        "{shop} accepteert deze Client ID en dit secret niet ({reason}): kopieer ze allebei opnieuw uit {place}, of "
        "maak daar nieuwe aan."
    ),
    "login_refused": "{shop} weigerde de hub ({reason}). Controleer de inloggegevens in {place}.",
    "format_refused": "{shop} accepteerde de opmaak van het verzoek van de hub niet; dit is een fout in de hub: meld het.",
    "field_missing": "Vul de {field} van {shop} in uit {place}.",
    "other_account": (
        "Deze inloggegevens horen bij {shop}-retailer {found}, niet bij retailer {known} van deze koppeling: "
        "plak de inloggegevens van dat account."
    ),
    "account_changed": (
        "De opgeslagen inloggegevens horen nu bij een andere {shop}-retailer dan {known}: koppel opnieuw met de "
        "inloggegevens van dat account."
    ),
    "account_unnamed": "{shop} accepteerde de inloggegevens maar noemde het retailer-account niet; probeer het over een minuut opnieuw.",
    "item_unknown": "De bestelling {order} van {shop} heeft geen artikel {item}.",
    "item_not_yours": "Artikel {item} wordt door {shop} of met een label van {shop} verzonden, niet met deze vervoerder.",
    "cancel_requested": (
        "De klant vroeg {shop} om artikel {item} te annuleren: de zending is niet bevestigd. "
        "Handel het verzoek af in {place}."
    ),
    "units_left": (
        "{shop} heeft nog {left} stuk(s) van artikel {item} te verzenden ({shipped} verzonden, {cancelled} daar "
        "geannuleerd), niet {asked}: het is verzonden of geannuleerd in {place}."
    ),
    "items_processing": (
        "{shop} verwerkt nog een zending van de artikelen van dit pakket; de hub kijkt opnieuw zodra die klaar is."
    ),
    "items_settled_meanwhile": (
        "{shop} rondde een zending van de artikelen van dit pakket af terwijl de hub de bestelling las; "
        "de hub kijkt opnieuw."
    ),
    "order_unknown": "{shop} kent bestelling {order} niet; het pakket kan daar niet bevestigd worden.",
    "shipment_rejected": "{shop} weigerde de zending: {reason}",
    "shipment_processing": "{shop} verwerkt de zending.",
    "shipment_failed": "{shop} accepteerde de zending niet ({outcome}): {reason}",
    "other_shipment_settled": (
        "{shop} rondde een eerdere zending van deze artikelen af, maar niet die van dit pakket: verstuur het opnieuw."
    ),
    "request_forgotten": (
        "{shop} kent dit zendingsverzoek niet meer en toont geen zending voor het pakket: verstuur het opnieuw."
    ),
    "no_transport": "Zending {shipment} van dit pakket bij {shop} heeft geen transport om de nieuwe track-and-trace aan te geven.",
    "tracking_change_rejected": "{shop} weigerde de nieuwe track-and-trace: {reason}",
    "tracking_change_processing": "{shop} verwerkt de track-and-trace.",
    "tracking_change_failed": "{shop} accepteerde de track-and-trace niet ({outcome}): {reason}",
    "order_malformed": "onleesbare bestelling van {shop}: {reason}",
    "skip_shop_fulfils": (
        "Fulfilment by {shop} (FBB): {shop} verzendt hem uit het eigen magazijn, er is niets voor u te verzenden"
    ),
    "skip_shop_label": (
        "Verzenden via bol (VVB): verzonden met een label gekocht bij {shop}, waarvan {shop} de tracking al kent"
    ),
    "skip_not_own": "geen artikel voor u om te verzenden: {shop} verzendt de artikelen zelf (FBB) of met een eigen label (VVB)",
    "skip_done": "niets meer te verzenden: elk artikel was al verzonden of geannuleerd bij {shop} voordat de hub de bestelling zag",
}

#: Parameter values that are the hub's own words (connection states), in Dutch.
VALUES_DUTCH = {
    "pending_authorization": "wachtend op toestemming",
    "connected": "gekoppeld",
    "auth_required": "opnieuw te koppelen",
    "error": "in fout",
    "disabled": "uitgeschakeld",
    "disconnected": "ontkoppeld",
}


def _coded_dutch(text: str) -> str | None:
    """A catalogued message in Dutch, its parameters kept (the hub's own words among them translated)."""
    read = read_message(text)
    if read is None or read[0] not in CODED_DUTCH:
        return None
    code, params = read
    return CODED_DUTCH[code].format_map({name: VALUES_DUTCH.get(value, value) for name, value in params.items()})


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The pages' language: the switch's cookie, else the browser's preference, else English."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT


def translator(lang: str) -> Callable[..., str]:
    """``t(text, **values)``: the text in ``lang`` with the values filled in."""

    def t(text: str, **values: object) -> str:
        if lang == "nl":
            text = DUTCH.get(text) or CORE_DUTCH.get(text) or (None if values else _coded_dutch(text)) or text
        return text.format(**values) if values else text

    return t
