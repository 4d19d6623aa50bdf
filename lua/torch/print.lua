-- Tensor printing, following PyTorch's repr (torch/_tensor_str.py) so the text
-- matches it: precision 4, scientific notation when the magnitudes span more
-- than 1000x (or exceed 1e8, or go below 1e-4), integer-valued floats as `1.`,
-- summaries with `...` above `threshold` elements, lines wrapped at `linewidth`.
-- Only the elements shown are read: a summarised tensor is cut into small views
-- (narrow/select) and only those are converted with tolist, so a huge tensor
-- prints at once. Installed as the registry's 'torch.tostring' (used by __tostring).
return function(torch)
  local DEFAULTS = { precision = 4, threshold = 1000, edgeitems = 3, linewidth = 80 }
  local opts = { precision = 4, threshold = 1000, edgeitems = 3, linewidth = 80, sci_mode = nil }

  -- torch.set_printoptions{precision=, threshold=, edgeitems=, linewidth=, sci_mode=, profile=}
  -- profile: 'default', 'short' (precision 2, edgeitems 2) or 'full' (no summaries).
  -- As in PyTorch, sci_mode returns to automatic unless given in the same call.
  function torch.set_printoptions(o)
    o = o or {}
    if type(o) ~= 'table' then
      error('set_printoptions: expected an options table, got ' .. type(o), 2)
    end
    local known = { precision = true, threshold = true, edgeitems = true, linewidth = true, sci_mode = true,
      profile = true }
    for k in pairs(o) do
      if not known[k] then error("set_printoptions: unknown option '" .. tostring(k) .. "'", 2) end
    end
    if o.profile ~= nil then
      if o.profile == 'default' then
        for k, v in pairs(DEFAULTS) do opts[k] = v end
      elseif o.profile == 'short' then
        opts.precision, opts.threshold, opts.edgeitems, opts.linewidth = 2, 1000, 2, 80
      elseif o.profile == 'full' then
        opts.precision, opts.threshold, opts.edgeitems, opts.linewidth = 4, math.huge, 3, 80
      else
        error("set_printoptions: unknown profile '" .. tostring(o.profile) .. "' (expected 'default', 'short' or 'full')", 2)
      end
    end
    for _, k in ipairs { 'precision', 'threshold', 'edgeitems', 'linewidth' } do
      if o[k] ~= nil then
        if type(o[k]) ~= 'number' or o[k] < 0 then
          error(('set_printoptions: %s must be a non-negative number, got %s'):format(k, tostring(o[k])), 2)
        end
        opts[k] = o[k]
      end
    end
    if o.sci_mode ~= nil and type(o.sci_mode) ~= 'boolean' then
      error('set_printoptions: sci_mode must be a boolean or nil, got ' .. type(o.sci_mode), 2)
    end
    opts.sci_mode = o.sci_mode
  end

  function torch.get_printoptions()
    return { precision = opts.precision, threshold = opts.threshold, edgeitems = opts.edgeitems,
      linewidth = opts.linewidth, sci_mode = opts.sci_mode }
  end

  local ELLIPSIS = setmetatable({}, { __tostring = function() return '...' end })

  local function isfinite(v) return v == v and v ~= math.huge and v ~= -math.huge end

  -- Nested Lua tables of the values to show (ELLIPSIS where rows are skipped).
  -- cvt brings a small piece to the cpu (and float16/bfloat16 to float32).
  local function gather(t, summarize, cvt)
    if not summarize or t:dim() == 0 then return cvt(t):tolist() end
    local n, e = t:size(1), opts.edgeitems
    if t:dim() == 1 then
      if n <= 2 * e then return cvt(t):tolist() end
      local out = cvt(t:narrow(1, 1, e)):tolist()
      out[#out + 1] = ELLIPSIS
      for _, v in ipairs(cvt(t:narrow(1, n - e + 1, e)):tolist()) do out[#out + 1] = v end
      return out
    end
    local out = {}
    if n <= 2 * e then
      for i = 1, n do out[i] = gather(t:select(1, i), true, cvt) end
    else
      for i = 1, e do out[#out + 1] = gather(t:select(1, i), true, cvt) end
      out[#out + 1] = ELLIPSIS
      for i = n - e + 1, n do out[#out + 1] = gather(t:select(1, i), true, cvt) end
    end
    return out
  end

  local function each_value(tree, fn)
    if type(tree) == 'table' then
      if tree ~= ELLIPSIS then
        for _, v in ipairs(tree) do each_value(v, fn) end
      end
    else
      fn(tree)
    end
  end

  local function fmt_special(v)
    if v ~= v then return 'nan' end
    if v == math.huge then return 'inf' end
    if v == -math.huge then return '-inf' end
  end

  local function fmt_e(v, prec) return fmt_special(v) or ('%.' .. prec .. 'e'):format(v) end
  local function fmt_f(v, prec) return fmt_special(v) or ('%.' .. prec .. 'f'):format(v) end

  -- PyTorch's _Formatter: decides int_mode / sci_mode and the common width.
  local function formatter(tree, floating)
    local f = { floating = floating, int_mode = true, sci_mode = false, width = 1 }
    local prec = opts.precision
    if not floating then
      each_value(tree, function(v)
        local s = type(v) == 'boolean' and (v and 'True' or 'False') or tostring(v)
        if #s > f.width then f.width = #s end
      end)
    else
      local vals, amin, amax = {}, math.huge, 0
      each_value(tree, function(v)
        if isfinite(v) and v ~= 0 then
          vals[#vals + 1] = v
          local a = math.abs(v)
          if a < amin then amin = a end
          if a > amax then amax = a end
          if v ~= math.ceil(v) then f.int_mode = false end
        end
      end)
      if #vals > 0 then
        local wide = amax / amin > 1000.0 or amax > 1.0e8
        if f.int_mode then
          f.sci_mode = wide
        else
          f.sci_mode = wide or amin < 1.0e-4
        end
        for _, v in ipairs(vals) do
          local s
          if f.sci_mode then s = fmt_e(v, prec)
          elseif f.int_mode then s = ('%.0f'):format(v) .. '.'
          else s = fmt_f(v, prec) end
          if #s > f.width then f.width = #s end
        end
      end
      if opts.sci_mode ~= nil then f.sci_mode = opts.sci_mode end
    end
    function f.format(v)
      local s
      if type(v) == 'boolean' then
        s = v and 'True' or 'False'
      elseif not f.floating then
        s = tostring(v)
      elseif f.sci_mode then
        s = fmt_e(v, prec)
      elseif f.int_mode then
        s = fmt_special(v) or (('%.0f'):format(v) .. '.')
      else
        s = fmt_f(v, prec)
      end
      if #s < f.width then s = (' '):rep(f.width - #s) .. s end
      return s
    end
    return f
  end

  local function vector_str(vals, indent, f)
    local elem_len = f.width + 2
    local per_line = math.max(1, math.floor((opts.linewidth - indent) / elem_len))
    local data = {}
    for i, v in ipairs(vals) do
      data[i] = v == ELLIPSIS and ' ...' or f.format(v)
    end
    local lines = {}
    for i = 1, #data, per_line do
      lines[#lines + 1] = table.concat(data, ', ', i, math.min(i + per_line - 1, #data))
    end
    return '[' .. table.concat(lines, ',\n' .. (' '):rep(indent + 1)) .. ']'
  end

  local function tree_str(tree, dim, indent, f)
    if dim == 0 then return f.format(tree) end
    if dim == 1 then return vector_str(tree, indent, f) end
    local parts = {}
    for i, sub in ipairs(tree) do
      parts[i] = sub == ELLIPSIS and '...' or tree_str(sub, dim - 1, indent + 1, f)
    end
    return '[' .. table.concat(parts, ',' .. ('\n'):rep(dim - 1) .. (' '):rep(indent + 1)) .. ']'
  end

  local function shape_tuple(s)
    local p = {}
    for i = 1, #s do p[i] = tostring(s[i]) end
    if #p == 1 then return '(' .. p[1] .. ',)' end
    return '(' .. table.concat(p, ', ') .. ')'
  end

  local function add_suffixes(str, suffixes, indent)
    local out = { str }
    local nl = str:match('.*()\n')
    local last_len = nl and (#str - nl + 2) or (#str + 2)
    for _, s in ipairs(suffixes) do
      if last_len + #s + 2 > opts.linewidth then
        out[#out + 1] = ',\n' .. (' '):rep(indent) .. s
        last_len = indent + #s
      else
        out[#out + 1] = ', ' .. s
        last_len = last_len + #s + 2
      end
    end
    out[#out + 1] = ')'
    return table.concat(out)
  end

  local function grad_fn_name(g)
    local ok, name = pcall(function()
      if type(g.name) == 'function' then return g:name() end
      return g.name
    end)
    return ok and name or tostring(g)
  end

  -- The contents part ("[...]") of t's repr, for an indent (used by nn printing too).
  function torch._tensor_str(t, indent)
    indent = indent or 0
    if t:numel() == 0 then return '[]' end
    local summarize = t:numel() > opts.threshold
    local dt = t.dtype
    local floating = t:is_floating_point()
    local cvt = function(x) return x end
    if tostring(t.device) ~= 'cpu' or dt == 'float16' or dt == 'bfloat16' then
      cvt = function(x) return x:to('cpu', { dtype = floating and 'float32' or x.dtype }) end
    end
    local tree = gather(t, summarize, cvt)
    local f = formatter(tree, floating)
    return tree_str(tree, t:dim(), indent, f)
  end

  local DEFAULT_DTYPES = { float32 = true, int64 = true, bool = true }

  function torch.tostring(t)
    local prefix = 'tensor('
    local indent = #prefix
    local suffixes = {}
    local dev = tostring(t.device)
    if dev ~= 'cpu' then suffixes[#suffixes + 1] = "device='" .. dev .. "'" end
    local body
    if t:numel() == 0 then
      if t:dim() ~= 1 then suffixes[#suffixes + 1] = 'size=' .. shape_tuple(t:size()) end
      if t.dtype ~= 'float32' then suffixes[#suffixes + 1] = 'dtype=torch.' .. t.dtype end
      body = '[]'
    else
      if not DEFAULT_DTYPES[t.dtype] then suffixes[#suffixes + 1] = 'dtype=torch.' .. t.dtype end
      body = torch._tensor_str(t, indent)
    end
    local gf = t.grad_fn
    if gf ~= nil then
      suffixes[#suffixes + 1] = 'grad_fn=<' .. tostring(grad_fn_name(gf)) .. '>'
    elseif t.requires_grad then
      suffixes[#suffixes + 1] = 'requires_grad=True'
    end
    return add_suffixes(prefix .. body, suffixes, indent)
  end

  debug.getregistry()['torch.tostring'] = torch.tostring
end
