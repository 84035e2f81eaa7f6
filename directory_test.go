package yipanqi_test

import (
	"testing"

	"yipanqi"
)

func TestParseDutyRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want yipanqi.DutyRole
		ok   bool
	}{
		{"第一责任人", yipanqi.RoleFirstResponsible, true},
		{"主要领导", yipanqi.RoleFirstResponsible, true},
		{"分管领导", yipanqi.RoleLeaderInCharge, true},
		{"机构负责人", yipanqi.RoleOfficeHead, true},
		{"办公室主任", yipanqi.RoleOfficeHead, true},
		{" 科长 ", yipanqi.RoleOfficeHead, true},
		{"专（兼）职人员", yipanqi.RoleStaff, true},
		{"专(兼)职人员", yipanqi.RoleStaff, true},
		{"工作人员", yipanqi.RoleStaff, true},
		{"staff", yipanqi.RoleStaff, true},
		{"老板", "", false},
		{"", "", false},
	} {
		got, ok := yipanqi.ParseDutyRole(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseDutyRole(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEntryPhone(t *testing.T) {
	for _, tc := range []struct {
		phone string
		ok    bool
	}{
		{"020-12345678", true},
		{"0898-1234567", true},
		{"02012345678", true},
		{"020-12345678-123", true},
		{"020-12345678转123", true},
		{"12320", true},
		{"13800138000", false}, // a mobile: refused, the directory is public
		{"+8613800138000", false},
		{"12345678", false}, // no area code
		{"020-1234", false},
	} {
		e := yipanqi.DirectoryEntry{Kind: yipanqi.EntryContact, DivisionCode: "4401", Name: "广州市流动人口服务管理办公室",
			Role: yipanqi.RoleStaff, PersonName: "王某某", Phone: tc.phone}
		errs := e.Check("44")
		if ok := len(errs) == 0; ok != tc.ok {
			t.Errorf("phone %q: errors %v, want ok=%v", tc.phone, errs, tc.ok)
		}
		for _, err := range errs {
			if err.Field != "Phone" {
				t.Errorf("phone %q: error on %s: %v", tc.phone, err.Field, err)
			}
		}
	}
}

func TestBuildHandbookPlaceholderCity(t *testing.T) {
	// 重庆: counties under the 市辖区 placeholder 5001, which has no contacts of its own.
	entries := []yipanqi.DirectoryEntry{
		{Kind: yipanqi.EntryContact, DivisionCode: "500101", DivisionName: "万州区", Name: "万州区办公室", Role: yipanqi.RoleStaff},
		{Kind: yipanqi.EntryContact, DivisionCode: "50", DivisionName: "重庆市", Name: "重庆市办公室", Role: yipanqi.RoleStaff},
		{Kind: yipanqi.EntryContact, DivisionCode: "50", DivisionName: "重庆市", Name: "重庆市卫健委", Role: yipanqi.RoleFirstResponsible},
	}
	h := yipanqi.BuildHandbook(yipanqi.DirectoryVersion{Province: "50", Version: 1}, entries)
	if h.Root == nil || h.Root.Name != "重庆市" || len(h.Root.Children) != 1 {
		t.Fatalf("root = %+v", h.Root)
	}
	// Offices in directory order, whatever the roles.
	if h.Root.Contacts[0].Name != "重庆市办公室" {
		t.Errorf("offices out of directory order: %+v", h.Root.Contacts)
	}
	city := h.Root.Children[0]
	if city.Code != "5001" || city.Name != "" || len(city.Children) != 1 || city.Children[0].Name != "万州区" {
		t.Fatalf("city = %+v", city)
	}
}
