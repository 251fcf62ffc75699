package strueretest

// Argument validators of sync:syncOrganization (protocol §5.1, §6.1). Every
// object is strict; v.any() fields are parameters, schema, displayConfig,
// maskConfig, condition and args.

func modelV() validator {
	return obj(req("provider", vString{}), req("name", vString{}), opt("temperature", vNumber{}), opt("maxTokens", vNumber{}))
}

func toolV() validator {
	return obj(req("name", vString{}), req("description", vString{}), req("parameters", vAnyT{}),
		opt("handlerCode", vString{}), req("isBuiltin", vBoolean{}))
}

func agentV() validator {
	return obj(req("name", vString{}), req("slug", vString{}), req("version", vString{}), opt("description", vString{}),
		req("systemPrompt", vString{}), req("model", modelV()), req("tools", arr(toolV())))
}

func entityTypeV(isolated bool) validator {
	fields := []field{req("name", vString{}), req("slug", vString{}), req("schema", vAnyT{}),
		opt("searchFields", arr(vString{})), opt("displayConfig", vAnyT{})}
	if isolated {
		fields = append(fields, opt("boundToRole", vString{}), opt("userIdField", vString{}))
	}
	return obj(fields...)
}

func roleV(withPriority bool) validator {
	pol := []field{req("resource", vString{}), req("actions", arr(vString{})), req("effect", literals("allow", "deny"))}
	if withPriority {
		pol = append(pol, opt("priority", vNumber{}))
	}
	scope := obj(req("entityType", vString{}), req("field", vString{}), req("operator", vString{}), req("value", vString{}))
	mask := obj(req("entityType", vString{}), req("fieldPath", vString{}), req("maskType", literals("hide", "redact")), opt("maskConfig", vAnyT{}))
	return obj(req("name", vString{}), opt("description", vString{}), req("policies", arr(obj(pol...))),
		opt("scopeRules", arr(scope)), opt("fieldMasks", arr(mask)))
}

func triggerV() validator {
	action := obj(req("tool", vString{}), req("args", vAnyT{}), opt("as", vString{}))
	schedule := obj(opt("delay", vNumber{}), opt("at", vString{}), opt("offset", vNumber{}), opt("cancelPrevious", vBoolean{}))
	retry := obj(opt("maxAttempts", vNumber{}), opt("backoffMs", vNumber{}))
	return obj(req("name", vString{}), req("slug", vString{}), opt("description", vString{}), req("entityType", vString{}),
		req("action", vString{}), opt("condition", vAnyT{}), req("actions", arr(action)), opt("schedule", schedule), opt("retry", retry))
}

func evalSuiteV() validator {
	assertion := obj(req("type", literals("llm_judge", "contains", "matches", "tool_called", "tool_not_called")),
		opt("value", vString{}), opt("criteria", vString{}), opt("weight", vNumber{}))
	turn := obj(req("userMessage", vString{}), opt("assertions", arr(assertion)))
	evalCase := obj(req("name", vString{}), opt("description", vString{}), opt("tags", arr(vString{})),
		req("turns", arr(turn)), opt("finalAssertions", arr(assertion)))
	return obj(req("name", vString{}), req("slug", vString{}), req("agentSlug", vString{}), opt("description", vString{}),
		opt("tags", arr(vString{})), opt("judgeModel", obj(req("provider", vString{}), req("name", vString{}))),
		opt("judgeContext", vString{}), opt("judgePrompt", vString{}), req("cases", arr(evalCase)))
}

func syncArgsE1() validator {
	return obj(opt("organizationId", vString{}), req("agents", arr(agentV())), req("entityTypes", arr(entityTypeV(false))),
		req("roles", arr(roleV(true))), opt("preservePackResources", vBoolean{}), opt("preserveUnmanagedAgents", vBoolean{}))
}

func syncArgsE2() validator {
	return obj(opt("organizationId", vString{}), req("environment", literals(envDev, envProd)),
		req("agents", arr(agentV())), req("entityTypes", arr(entityTypeV(true))), req("roles", arr(roleV(false))),
		opt("evalSuites", arr(evalSuiteV())), opt("triggers", arr(triggerV())))
}

// HEAD's validators (protocol-head §H1.1): the model is {model,
// temperature?, maxTokens?}, tools have templateOnly and no isBuiltin,
// agents have firstMessageSuggestions and threadContextParams, roles have
// agentAccess, suites have judgeModel {model} and cases channel and
// contextParams, and fixtures exist.

func envHeadV() validator { return literals(envDev, envProd, envEval) }

func agentHeadV() validator {
	model := obj(req("model", vString{}), opt("temperature", vNumber{}), opt("maxTokens", vNumber{}))
	tool := obj(req("name", vString{}), req("description", vString{}), req("parameters", vAnyT{}),
		opt("handlerCode", vString{}), opt("templateOnly", vBoolean{}))
	param := obj(req("name", vString{}), req("type", literals("string", "number", "boolean")),
		opt("required", vBoolean{}), opt("description", vString{}))
	return obj(req("name", vString{}), req("slug", vString{}), req("version", vString{}), opt("description", vString{}),
		opt("firstMessageSuggestions", arr(vString{})), opt("threadContextParams", arr(param)),
		req("systemPrompt", vString{}), req("model", model), req("tools", arr(tool)))
}

func roleHeadV() validator {
	pol := obj(req("resource", vString{}), req("actions", arr(vString{})), req("effect", literals("allow", "deny")))
	scope := obj(req("entityType", vString{}), req("field", vString{}), req("operator", vString{}), req("value", vString{}))
	mask := obj(req("entityType", vString{}), req("fieldPath", vString{}), req("maskType", literals("hide", "redact")), opt("maskConfig", vAnyT{}))
	return obj(req("name", vString{}), opt("description", vString{}), opt("agentAccess", arr(vString{})),
		req("policies", arr(pol)), opt("scopeRules", arr(scope)), opt("fieldMasks", arr(mask)))
}

func evalSuiteHeadV() validator {
	assertion := obj(req("type", literals("llm_judge", "contains", "matches", "tool_called", "tool_not_called")),
		opt("value", vString{}), opt("criteria", vString{}), opt("weight", vNumber{}))
	turn := obj(req("userMessage", vString{}), opt("assertions", arr(assertion)))
	evalCase := obj(req("name", vString{}), opt("description", vString{}), opt("tags", arr(vString{})),
		req("turns", arr(turn)), opt("finalAssertions", arr(assertion)),
		opt("channel", literals("widget", "whatsapp", "api", "dashboard")), opt("contextParams", vAnyT{}))
	return obj(req("name", vString{}), req("slug", vString{}), req("agentSlug", vString{}), opt("description", vString{}),
		opt("tags", arr(vString{})), opt("judgeModel", obj(req("model", vString{}))),
		opt("judgeContext", vString{}), opt("judgePrompt", vString{}), req("cases", arr(evalCase)))
}

func fixtureV() validator {
	entity := obj(req("ref", vString{}), req("type", vString{}), req("data", vAnyT{}), opt("status", vString{}))
	relation := obj(req("from", vString{}), req("to", vString{}), req("type", vString{}), opt("metadata", vAnyT{}))
	return obj(req("name", vString{}), req("slug", vString{}), req("entities", arr(entity)), opt("relations", arr(relation)))
}

// syncArgsHead is sync:syncOrganization's validator; internal is the
// internal mutation behind POST /v1/sync, whose organizationId is a
// required v.id("organizations").
func syncArgsHead(internal bool) validator {
	org := opt("organizationId", vString{})
	if internal {
		org = req("organizationId", vID{"organizations"})
	}
	return obj(org, req("environment", envHeadV()),
		req("agents", arr(agentHeadV())), req("entityTypes", arr(entityTypeV(true))), req("roles", arr(roleHeadV())),
		opt("evalSuites", arr(evalSuiteHeadV())), opt("triggers", arr(triggerV())), opt("fixtures", arr(fixtureV())))
}
