# The words of yui's pages (English). Copy this file per language to translate.
# { $n } and the like are values filled in.

skip-to-content = Skip to content
nav-label = Site menu
lang-label = Language
nav-home = Home
nav-calendar = Events
nav-board = Readiness board
nav-cases = Cases
nav-calls = Calls for partners
nav-network = Network
nav-accessibility = Accessibility statement
nav-api = JSON API
nav-operator = Operator
footer-about = Signed information from partner municipalities, as this municipality's node holds it.
back-home = Back to the home page
more = Show more
search = Search
contact = Contact
details-provenance = Details and provenance
exercise = Exercise
exercise-detail = This is a drill, not a real emergency.

banner-heading = Municipalities at alert level 3 or above
banner-board = See the readiness board

alert-level = Alert level
alert-0 = No alert
alert-1 = Early warning information
alert-2 = Advisory
alert-3 = Elderly and others evacuate
alert-4 = Evacuation instruction
alert-5 = Emergency safety measures

age-now = just now
age-minutes = { $n ->
    [one] 1 minute ago
   *[other] { $n } minutes ago
}
board-age-hours = { $n ->
    [one] 1 hour ago
   *[other] { $n } hours ago
}
age-days = { $n ->
    [one] 1 day ago
   *[other] { $n } days ago
}

home-title = Network exchange between municipalities
home-lead = Events, disaster readiness and cooperation cases of { $n ->
    [one] one municipality
   *[other] { $n } municipalities
} in one place.
home-events = Upcoming events
home-cases = New cooperation cases
home-calls = Open calls for partners
home-all-events = All events
home-all-cases = All cases
home-all-calls = All calls
none-events = No events are planned.
none-cases = No cases yet.
none-calls = No open calls.
none-offers = No offers.
none-readiness = No municipality has published its readiness yet.
none-readiness-member = No readiness from this municipality has arrived yet.
none-cases-found = No cases match. Try fewer words or remove a filter.
none-ties = No ties yet.
none-relays = No relays.

calendar-title = Events calendar
calendar-upcoming = Upcoming events
calendar-list = List
calendar-month = Month
calendar-views = View
calendar-prev = Previous month
calendar-next = Next month
calendar-today = today
calendar-count = { $n ->
    [one] 1 event
   *[other] { $n } events
}
calendar-subscribe = Subscribe
calendar-subscribe-help = Follow the events of these filters in your calendar app: paste the address below into its "add calendar from URL".
calendar-subscribe-url = Subscription address
calendar-subscribe-app = Open in your calendar app
calendar-download = Download the .ics file
filter-legend = Filters
filter-municipality = Municipality
filter-category = Category
filter-attendance = Attendance
filter-within = When
filter-any = Any
filter-apply = Apply filters
within-48h = Next 48 hours
within-week = Next 7 days
within-month = Next month
attendance-offline = In person
attendance-online = Online
attendance-mixed = In person and online
event-when = When
event-where = Where
event-online = Join online
event-status = Status
event-organisers = Organised by
event-partners = Partners
event-cancelled = Cancelled
event-add-calendar = Add this event to your calendar (.ics)
status-event-tentative = Tentative
status-event-confirmed = Confirmed
status-event-cancelled = Cancelled

board-title = Readiness board
board-updated = Last updated
board-refresh = This page refreshes itself every minute.
board-refresh-stop = Stop refreshing
board-refresh-start = Refresh this page every minute
board-as-of = As of
board-stale = Out of date
board-valid-until = valid until
board-communications = Communications
board-shelter = Places for evacuees
board-shelter-line = { $available } available of { $capacity }
board-outside-yes = Accepts evacuees from outside
board-outside-no = Does not accept evacuees from outside
board-supplies = Supplies on offer
board-staff = Staff deployable
board-staff-line = { $count } for { $days } days
board-facilities = Facilities
board-resources = Requests and offers of aid
board-acknowledged = Acknowledged by:
board-acknowledged-none = nobody yet
board-without = Municipalities without readiness here
status-normal = Normal
status-degraded = Degraded
status-down = Down
rm-request = Request
rm-offer = Offer
rm-commit = Commitment
rm-decline = Declined
rm-cancel = Cancelled
rm-release = Released

cases-title = Case library
cases-lead = Cooperation and exchange between municipalities, by policy area and municipality.
cases-search-label = Search cases
cases-search-help = Search in Japanese, English, Chinese or Korean. Part of a word is enough (老人ホーム finds 特別養護老人ホーム).
cases-results = { $n ->
    [one] 1 result
   *[other] { $n } results
}
cases-year = { $name }
facets = Filters
facets-clear = Remove all filters
facet-area = Policy area
facet-municipality = Municipality
facet-period = Period
facet-selected = (selected)
area-tourism = Tourism
area-disaster_prevention = Disaster prevention
area-education = Education
area-welfare = Welfare and elderly care
area-economy = Economy
area-culture = Culture and sport
area-other = Other
case-summary = Summary
case-outcomes = Outcomes
case-period = Period
case-participants = Participating municipalities
case-contact = Person in charge
case-attachments = Attachments
attachment-name = File
attachment-type = Type
attachment-size = Size
attachment-digest = SHA-256 digest
attachment-help = Attachments are named by digest: a file whose digest matches is the one the author published.
contact-name = Name
contact-department = Department
contact-email = E-mail
contact-phone = Phone
contact-url = Website

calls-title = Calls for partners
calls-lead = Municipalities looking for partners, and offers of cooperation. Beside each call, the offers that fit it by policy area or content.
calls-needs = Looking for partners
calls-offers = Offering cooperation
calls-matches = Offers that may fit
calls-no-match = No fitting offer yet.
calls-why-area = same policy area
calls-why-words = similar content
calls-closed = { $n ->
    [one] One call past its deadline is not shown.
   *[other] { $n } calls past their deadline are not shown.
}
call-need = Looking for partners
call-offer = Offer
call-deadline = Deadline:
call-open = open

network-title = Network
network-lead = The municipalities and relays this node trusts, and the sister-city, friendship, mutual-aid and network ties between them.
network-graph = Graph of ties
network-graph-desc = Municipalities are points on a circle, ties are lines. Colour and dash pattern give the kind of tie; the table below says the same in words.
network-drawn = { $n ->
    [one] The graph shows one municipality.
   *[other] The graph shows { $n } municipalities.
}
network-pending-note = Thin, faint lines are ties only one side has published (pending).
network-ties = Ties
network-members = Municipalities
network-members-count = { $n ->
    [one] 1 municipality
   *[other] { $n } municipalities
}
network-relays = Relays
network-relays-lead = Run by regional bodies: they store and forward their members' information and vouch for members. They cannot change it.
tie-sister_city = Sister city
tie-friendship = Friendship city
tie-mutual_aid = Disaster mutual-aid agreement
tie-network = City network
tie-kind = Kind
tie-between = Between
tie-status = Status
tie-since = Since
tie-active = Published by both
tie-pending = Pending
member-name = Name
member-code = Code
member-kind = Kind
member-country = Country
member-languages = Languages
member-endorsed-by = Vouched for by
member-key = Node key
member-relay = relay
member-own = this node
member-readiness = Disaster readiness
kind-municipality = Municipality
kind-special_ward = Special ward
kind-prefecture = Prefecture
kind-wide_area_union = Wide-area union
kind-foreign_city = City abroad
kind-network = City network
kind-unknown = Unknown
kind-entry-profile = Profile
kind-entry-event = Event
kind-entry-readiness = Readiness
kind-entry-case = Case
kind-entry-call_for_partners = Call for partners
kind-entry-partnership = Partnership
kind-entry-endorsement = Endorsement
kind-entry-revocation = Key revocation
kind-entry-key_rotation = Key rotation
kind-entry-acknowledgement = Acknowledgement
kind-entry-retraction = Retraction
kind-entry-unknown = Unknown kind

prov-title = Provenance
prov-author = Published by
prov-key = Signed with key
prov-signature = Signature
prov-signature-verified = This node verified the ed25519 signature before storing it: nobody who forwarded it changed it.
prov-revoked = the key is revoked
prov-created = Created
prov-arrived = Stored here
prov-arrived-peer = from { $name }
prov-arrived-published = published by this node
prov-arrived-import = imported from a bundle or a restore
prov-arrived-unknown = not recorded (stored before this node recorded it)
prov-entry = Entry id
prov-seq = seq
prov-version = Version
prov-version-n = version { $n }
prov-json = JSON
prov-history = Version history
entry-withdrawn = Withdrawn
entry-withdrawn-detail = The municipality that published this has withdrawn it.
entry-withdrawn-reason = Reason:

a11y-title = Accessibility statement
a11y-target = This site aims at conformance level AA of JIS X 8341-3:2016 and WCAG 2.2. Everything works without JavaScript and with a keyboard alone; text follows your size settings; alert levels are given by number and name, not by colour alone.
a11y-how-h = How it is checked
a11y-how-1 = Every page, in Japanese and English, is checked with the axe-core engine at every release.
a11y-how-2 = Every page is checked to show its content with JavaScript disabled.
a11y-how-3 = Headings, labels, the skip link, visible focus and contrast are checked.
a11y-how-4 = Content carries its language, so screen readers read it in the right language.
a11y-known-h = Known issues
a11y-known-1 = The graph of ties gets hard to read with many municipalities; the table beside it says the same.
a11y-known-2 = Each municipality is responsible for the plainness of the texts it publishes.
a11y-contact-h = Feedback
a11y-contact = If something is hard to use, tell the information policy office of the municipality running this node.

operator-title = Operator page
operator-token = Admin token
operator-token-help = The content of admin.token in the node's home folder. It is not stored; it is used for this one view.
operator-show = Show the state
operator-refused = That is not the admin token.
operator-peers = Peers
operator-address = Address
operator-node = Node
operator-state = State
operator-behind = Behind
operator-last = Last contact
operator-forks = Forked logs
operator-refusals = Refusals
operator-tasks = Tasks
operator-none = None.

error-bad = Something in the request is wrong
error-not-found = Page not found
error-not-found-detail = This node does not hold that. Check the address, or start from the home page.
error-internal = The node failed
error-internal-detail = Try again in a moment. If it goes on, tell this node's operator.
error-unknown-param = This page has no filter "{ $name }".
error-node-id = "{ $name }" is not a node id (they start with yui1).
error-month = "{ $name }" is not a month (for example 2027-02).
error-view = There is no view "{ $name }" (list or month).
error-attendance = There is no attendance "{ $name }" (offline, online, mixed).
error-within = There is no period "{ $name }" (48h, week, month).
error-category = A category is at most 64 characters.
error-area = There is no policy area "{ $name }".
error-period = "{ $name }" is not a year (for example 2026).
error-refresh = refresh: "{ $name }" is neither on nor off.

pager-label = Pages
pager-prev = Previous
pager-next = Next
pager-of = Page { $page } of { $pages }
error-page = There is no page "{ $name }" (1 to { $pages }).
board-summary = Municipalities by alert level
board-count = { $n ->
    [one] 1 municipality
   *[other] { $n } municipalities
}
calendar-more-day = { $n } more
calendar-day = Events on { $name }
filter-municipality-help = Name or code (for example Sapporo, 011002)
error-municipality = No municipality matches "{ $name }". Type its name or its code.
error-day = "{ $name }" is not a date (for example 2027-02-10).
network-members-all = Every municipality as JSON
facet-more = { $n } more
