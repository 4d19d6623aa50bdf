-- torch._suggest(name, known): the known option name closest to a mistyped one, for
-- "unknown option 'learning_rate' (did you mean 'lr'?)" messages; nil when none is
-- close enough to be a plausible typo. Closeness is the Levenshtein distance, and a
-- name containing another (learning_rate / lr) counts as close.
return function(torch)
  local function edit_distance(a, b)
    local prev, cur = {}, {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
      cur[0] = i
      for j = 1, #b do
        local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
        cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      end
      prev, cur = cur, prev
    end
    return prev[#b]
  end

  function torch._suggest(name, known)
    if type(name) ~= 'string' then return nil end
    local best, bestd = nil, math.huge
    for _, k in ipairs(known) do
      local d = edit_distance(name, k)
      if name:find(k, 1, true) or k:find(name, 1, true) then d = math.min(d, 0) end
      if name:sub(1, 1) == k:sub(1, 1) and #k <= 3 then d = math.min(d, math.max(2, d - #name + #k)) end
      if d < bestd then best, bestd = k, d end
    end
    if best and bestd <= math.max(2, #name // 3) then return best end
    return nil
  end

  -- " (did you mean 'x'?)" or ''
  function torch._did_you_mean(name, known)
    local s = torch._suggest(name, known)
    return s and (" (did you mean '%s'?)"):format(s) or ''
  end
end
