"""The staff and resident roles of DESIGN.md section 4 (plain data, no web imports)."""

RESIDENT = "resident"
STORE = "store"
AGENT = "agent"
SECRETARIAT = "secretariat"
CITY = "city"

STAFF_ROLES = (STORE, AGENT, SECRETARIAT, CITY)
# The roles that must log in with a second factor where `kariya.staff.require_totp` is on
# (production); the others may enrol.
SECOND_FACTOR_ROLES = (SECRETARIAT, CITY)

ROLE_LABELS = {
    RESIDENT: "市民",
    STORE: "登録店スタッフ",
    AGENT: "コールセンター",
    SECRETARIAT: "事務局",
    CITY: "市担当者",
}

# Where each role lands after login.
HOME_ROUTES = {
    STORE: "store.home",
    AGENT: "callcenter.home",
    SECRETARIAT: "secretariat.home",
    CITY: "city.home",
    RESIDENT: "resident.home",
}
