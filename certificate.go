package yipanqi

import "time"

// CertificateKind says whether this node issued a certificate (as the hometown side) or saw
// and recorded one (as the residence side).
type CertificateKind string

// Certificate kinds.
const (
	CertIssued CertificateKind = "issued"
	CertSeen   CertificateKind = "seen"
)

// Certificate is a marriage-and-childbirth certificate (《流动人口婚育证明》).
type Certificate struct {
	ID            int64
	Number        string
	Kind          CertificateKind
	IDNumber      string // the holder's resident ID number
	HolderName    string
	IssuerCode    string // the issuing unit's division code
	IssuedOn      Date
	ValidUntil    Date
	MaritalStatus MaritalStatus
	Revoked       bool
	CreatedAt     time.Time
}
