package demo

import "github.com/stickyacd/stickyacd/cmd/stickyacd/internal/bench/synth"

// The demo's directory: two teams, so that every step of the chain has
// someone and a stranger exists to prove a known customer never reaches one.
const agentsCSV = `agent_id,name,extension,team,role,backup_agent_id,skills
A1,Ann,3001,north,agent,A2,loan|card
A2,Ben,3002,north,agent,A1,loan|card
A3,Cat,3003,north,agent,,loan|card
A4,Dan,3004,north,agent,,loan|card
L1,Lea,3009,north,leader,,loan|card
B1,Bob,3101,south,agent,,loan|card
B2,Bea,3102,south,agent,,loan|card
L2,Lou,3109,south,leader,,loan|card
`

// agentIDs in the order they are shown.
var agentIDs = []string{"A1", "A2", "A3", "A4", "L1", "B1", "B2", "L2"}

// extensions of the agents' phones.
var extensions = map[string]string{
	"A1": "3001", "A2": "3002", "A3": "3003", "A4": "3004", "L1": "3009",
	"B1": "3101", "B2": "3102", "L2": "3109",
}

// Customers: K1 and K2 belong to Ann, K3 to Bob. K2 has an ID number, which
// the caller of scene 5 keys in from a number nobody knows.
const (
	phoneK1 = "13900000001"
	phoneK2 = "13900000002"
	phoneK3 = "13900000003"
)

// idK2 is K2's ID number: 17 digits and their ISO 7064 MOD 11-2 check.
var idK2 = synth.IDNumber("11010119900307001")

func customersCSV() string {
	return "customer_id,name,id_number,phones,first_agent_id\n" +
		"K1,Gao,," + phoneK1 + ",A1\n" +
		"K2,Hu," + idK2 + "," + phoneK2 + ",A1\n" +
		"K3,Jin,," + phoneK3 + ",B1\n"
}
