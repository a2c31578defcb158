-- Argo CD health check for shardcast.dev/ShardSet.
-- Install it as resource.customizations.health.shardcast.dev_ShardSet in
-- argocd-cm (see README.md). Written for Argo CD's Lua 5.1 (gopher-lua);
-- also runs on Lua 5.4 (tests/examples/argocd_health_test.sh).
--
--   Progressing  no status yet, or metadata.generation ahead of
--                status.observedGeneration (spec change not seen yet)
--   Degraded     condition Stalled=True (cannot progress without a change:
--                invalid spec, pods the API server refuses), or Degraded=True
--   Progressing  condition Progressing=True (a move, promotion or scale runs)
--   Healthy      condition Ready=True and observedGeneration == generation
--   Progressing  otherwise (waiting for Ready)
local hs = {}

local function condition(status, ctype)
  if status == nil or status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local status = obj.status
local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

if status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

local observed = status.observedGeneration
if observed == nil or observed < generation then
  hs.status = "Progressing"
  hs.message = string.format("Waiting for the operator to observe generation %d (observed %d)",
    generation, observed or 0)
  return hs
end

local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "ShardSet cannot progress")
  return hs
end

local degraded = condition(status, "Degraded")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded, "ShardSet is degraded")
  return hs
end

local progressing = condition(status, "Progressing")
if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(progressing, "ShardSet is changing")
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready, "ShardSet is ready")
  return hs
end

hs.status = "Progressing"
if ready ~= nil then
  hs.message = describe(ready, "Waiting for the ShardSet to become ready")
else
  hs.message = "Waiting for the ShardSet to become ready"
end
return hs
