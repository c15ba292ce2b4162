package lint

// Checks returns every check in the order they are documented and run.
// The list is explicit: adding a check means adding it here.
func Checks() []Check {
	return []Check{
		yamlSyntax{},
		rulesSchema{},
		configSchema{},
		configSecretRef{},
		promqlSyntax{},
		severityLabel{},
		requiredAnnotations{},
		templateSyntax{},
		templateLabels{},
		duplicateName{},
		recordName{},
		forMissing{},
		forSuspicious{},
		absentFor{},
		noComparison{},
		rateWindow{},
		labelValue{},
		regexLiteral{},
		regexRedundant{},
		undefinedRecord{},
		unusedRecord{},
		emptyGroup{},
		duplicateGroup{},
		labelName{},
		alertName{},
		emptyFile{},
		plaintextSecret{},
		severityUnrouted{},
		unknownReceiver{},
		unusedReceiver{},
		inhibitLabels{},
		undeclaredSeverity{},
		matcherSyntax{},
		invalidConfig{},
		noSeverities{},
	}
}
