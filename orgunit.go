package yipanqi

import "time"

// Level of an administrative division, and of the org unit that serves it.
type Level int

// Levels, from the top. The digits of a division code say its level.
const (
	LevelProvince Level = 1 // 2 digits
	LevelCity     Level = 2 // 4 digits
	LevelCounty   Level = 3 // 6 digits
	LevelTownship Level = 4 // 9 digits
	LevelVillage  Level = 5 // 12 digits
)

// LevelOf returns the level of a division code by its length, or 0 for an invalid code.
func LevelOf(code string) Level {
	if !ValidDivisionCode(code) {
		return 0
	}
	switch len(code) {
	case 2:
		return LevelProvince
	case 4:
		return LevelCity
	case 6:
		return LevelCounty
	case 9:
		return LevelTownship
	}
	return LevelVillage
}

// CodeLength returns how many digits a code of the level has.
func (l Level) CodeLength() int {
	switch l {
	case LevelProvince:
		return 2
	case LevelCity:
		return 4
	case LevelCounty:
		return 6
	case LevelTownship:
		return 9
	case LevelVillage:
		return 12
	}
	return 0
}

// Label returns the Chinese name of the level.
func (l Level) Label() string {
	switch l {
	case LevelProvince:
		return "省级"
	case LevelCity:
		return "市级"
	case LevelCounty:
		return "县级"
	case LevelTownship:
		return "乡级"
	case LevelVillage:
		return "村级"
	}
	return ""
}

// OrgUnit is an office of the floating-population service at one division a node serves.
type OrgUnit struct {
	Code       string // the division code
	Name       string // the division's full name
	Level      Level
	ParentCode string // "" for the node's top unit
	Active     bool   // has staff and takes cases
}

// Role of a user.
type Role string

// Roles.
const (
	RoleTownshipWorker     Role = "township_worker"
	RoleCountySupervisor   Role = "county_supervisor"
	RoleCitySupervisor     Role = "city_supervisor"
	RoleProvinceSupervisor Role = "province_supervisor"
	RoleProvinceAdmin      Role = "province_admin"
	RoleRegionalObserver   Role = "regional_observer"
)

// User is a member of staff. A user belongs to one org unit and sees that unit's subtree.
type User struct {
	ID           int64
	Username     string
	DisplayName  string
	OrgUnit      string
	Role         Role
	PasswordHash string
	Disabled     bool
	CreatedAt    time.Time
}

// Scope returns the subtree the user may see.
func (u *User) Scope() (Scope, error) { return NewScope(u.OrgUnit) }
