// Package config loads obsctl.yaml, the file that names the stack and
// declares alert routing. It is part of the load stage: the file is read
// through yaml.Node and decoded strictly (an unknown or misspelt key, a wrong
// type or a bad duration is a positioned finding), and every decoded struct
// keeps the span of each of its fields for the checks that come later.
package config
