-- th, the interpreter: options, the arg table, exit codes, stdin scripts, the
-- REPL loop driven through a pipe (th -i), and th.repl's pretty printer and
-- completion. th runs as a subprocess; the one running this spec is used
-- (build/th, or build-san/th under make sanitize).
local torch = require 'torch'
local repl = require 'th.repl'

local function interpreter()
  local lowest = 0
  while arg and arg[lowest - 1] do lowest = lowest - 1 end
  local exe = arg and arg[lowest]
  if exe and exe:match('th$') then return exe end
  local root = debug.getinfo(1, 'S').source:sub(2):match('^(.*)/spec/') or '.'
  return root .. '/build/th'
end
local TH = interpreter()

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function write_file(path, text)
  local f = assert(io.open(path, 'wb'))
  f:write(text)
  f:close()
end

-- Runs `th <args>` (a list, quoted here) with input on stdin (nothing if nil);
-- returns stdout, stderr, exit code. env: a prefix like "LUA_PATH=... ".
local function th(args, input, env)
  local parts = {}
  for i, a in ipairs(args) do parts[i] = quote(a) end
  local inf, errf = os.tmpname(), os.tmpname()
  write_file(inf, input or '')
  local p = io.popen((env or '') .. quote(TH) .. ' ' .. table.concat(parts, ' ')
    .. ' <' .. inf .. ' 2>' .. errf)
  local out = p:read('a')
  local _, _, code = p:close()
  local err = slurp(errf)
  os.remove(inf)
  os.remove(errf)
  return out, err, code
end

describe('th options', function()
  it('prints the version with -v', function()
    local out, err, code = th { '-v' }
    assert.equal(0, code)
    assert.matches('^Ember 0%.1%.0 %(Lua 5%.4%.%d+%)\n$', out)
    assert.equal('', err)
  end)
  it('prints usage on stdout with -h and exits 0', function()
    local out, err, code = th { '-h' }
    assert.equal(0, code)
    assert.matches('usage: th %[options%] %[script %[args%]%]', out)
    assert.matches('%-e stat', out)
    assert.equal('', err)
  end)
  it('rejects an unknown option with usage on stderr and exit 1', function()
    local out, err, code = th { '-x', 'script.lua' }
    assert.equal(1, code)
    assert.equal('', out)
    assert.matches("unrecognized option '%-x'", err)
    assert.matches('usage: th', err)
  end)
  it('rejects -e without its argument', function()
    local _, err, code = th { '-e' }
    assert.equal(1, code)
    assert.matches("option needs an argument: '%-e'", err)
  end)
  it('runs several -e in order, with torch preloaded', function()
    local out, err, code = th { '-e', 'x = 2', '-e', 'print(x * 3)', '-e', 'print(torch.zeros(2, 3):dim())' }
    assert.equal(0, code)
    assert.equal('6\n2\n', out)
    assert.equal('', err)
  end)
  it('accepts -e with the code attached (-ecode)', function()
    local out = th { '-eprint(42)' }
    assert.equal('42\n', out)
  end)
  it('requires a module into a global with -l name and -l g=name', function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute('mkdir ' .. quote(dir)))
    write_file(dir .. '/thspecmod.lua', 'return { value = 17 }')
    local env = 'LUA_PATH=' .. quote(dir .. '/?.lua;;') .. ' '
    local out, err, code = th({ '-l', 'thspecmod', '-l', 'm=thspecmod', '-e', 'print(thspecmod.value, m.value)' },
      nil, env)
    assert.equal('17\t17\n', out)
    assert.equal('', err)
    assert.equal(0, code)
    local _, err2, code2 = th({ '-l', 'thspec_no_such_module' })
    assert.equal(1, code2)
    assert.matches("module 'thspec_no_such_module' not found", err2)
    os.remove(dir .. '/thspecmod.lua')
    os.remove(dir)
  end)
  it('preloads nn, optim, data and image as globals where they exist', function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute('mkdir ' .. quote(dir)))
    for _, m in ipairs { 'nn', 'optim', 'data', 'image' } do
      write_file(dir .. '/' .. m .. '.lua', 'return {}')
    end
    local env = 'LUA_PATH=' .. quote(dir .. '/?.lua;;') .. ' '
    local out, err = th({ '-e', 'print(type(nn), type(optim), type(data), type(image))' }, nil, env)
    assert.equal('table\ttable\ttable\ttable\n', out)
    assert.equal('', err)
    -- a package that fails to load for another reason is a warning, not a failure
    -- (only checkable while the repository has no image package of its own)
    write_file(dir .. '/image.lua', 'error("image is broken")')
    local bindir = TH:match('^(.*)/') or '.'
    local repo_lua = bindir .. '/../lua/?.lua;' .. bindir .. '/../lua/?/init.lua'
    if not package.searchpath('image', repo_lua) then
      local out2, err2, code2 = th({ '-e', 'print(image)' }, nil, env)
      assert.equal('nil\n', out2)
      assert.matches('warning: cannot load image: .*image is broken', err2)
      assert.equal(0, code2)
    end
    for _, m in ipairs { 'nn', 'optim', 'data', 'image' } do os.remove(dir .. '/' .. m .. '.lua') end
    os.remove(dir)
  end)
  it('says nothing about optional packages (nn, optim, data, image) that do not exist yet', function()
    local out, err = th { '-e', 'print(type(torch))' }
    assert.equal('table\n', out)
    assert.equal('', err)
  end)
end)

describe('th scripts', function()
  local script
  before_each(function() script = os.tmpname() end)
  after_each(function() os.remove(script) end)

  it('builds arg as lua.c does and passes the arguments as ...', function()
    write_file(script, [[
      print(arg[-2], arg[-1], arg[0] == SCRIPT, arg[1], arg[2], #arg)
      print(select('#', ...), ...)
    ]])
    local out, err, code = th { '-e', 'SCRIPT = ' .. string.format('%q', script), script, 'a', 'b c' }
    assert.equal('', err)
    assert.equal(0, code)
    assert.equal('-e\tSCRIPT = ' .. string.format('%q', script) .. '\ttrue\ta\tb c\t2\n2\ta\tb c\n', out)
  end)
  it('puts the interpreter at the lowest index of arg', function()
    write_file(script, 'local i = 0; while arg[i - 1] do i = i - 1 end; print(i, arg[i])')
    local out = th { script }
    assert.equal('-1\t' .. TH .. '\n', out)
  end)
  it('exits 0 on success, 1 with a traceback on error, n on os.exit(n)', function()
    write_file(script, 'print("ok")')
    local out, _, code = th { script }
    assert.equal('ok\n', out)
    assert.equal(0, code)

    write_file(script, 'local function f() error("boom") end\nf()')
    local _, err, code1 = th { script }
    assert.equal(1, code1)
    assert.matches(':1: boom', err)
    assert.matches('stack traceback:', err)
    assert.matches("in local 'f'", err)

    local _, _, code3 = th { '-e', 'os.exit(3)' }
    assert.equal(3, code3)
    local _, _, code0 = th { '-e', 'os.exit(true)' }
    assert.equal(0, code0)
  end)
  it('exits 1 on an error in -e and does not run the script', function()
    write_file(script, 'print("should not run")')
    local out, err, code = th { '-e', 'error("early")', script }
    assert.equal(1, code)
    assert.equal('', out)
    assert.matches('early', err)
  end)
  it('reports a missing script or a syntax error with exit 1', function()
    local _, err, code = th { '/nonexistent/thspec.lua' }
    assert.equal(1, code)
    assert.matches('cannot open /nonexistent/thspec.lua', err)
    write_file(script, 'x = = 1')
    local _, err2, code2 = th { script }
    assert.equal(1, code2)
    assert.matches("unexpected symbol near '='", err2)
  end)
  it('runs a script piped on stdin when given no arguments', function()
    local out, err, code = th({}, 'print(1 + 1)\nprint(torch.ones(3):numel())\n')
    assert.equal('2\n3\n', out)
    assert.equal('', err)
    assert.equal(0, code)
    local _, err2, code2 = th({}, 'error("from stdin")')
    assert.equal(1, code2)
    assert.matches('stdin:1: from stdin', err2)
  end)
  it('runs stdin as the script for "-", with arguments', function()
    local out, _, code = th({ '-', 'p', 'q' }, 'print(arg[0], #arg, ...)')
    assert.equal('-\t2\tp\tq\n', out)
    assert.equal(0, code)
  end)
  it('treats a name after -- as a script, even one starting with -', function()
    write_file(script, 'print("dashdash", ...)')
    local out = th { '--', script, '-x' }
    assert.equal('dashdash\t-x\n', out)
  end)
  it('turns Ctrl-C (SIGINT) into an "interrupted!" error', function()
    local errf = os.tmpname()
    local p = io.popen(quote(TH) .. " -e 'while true do end' 2>" .. errf
      .. ' & pid=$!; sleep 0.3; kill -INT $pid; wait $pid; echo $?')
    local out = p:read('a')
    p:close()
    local err = slurp(errf)
    os.remove(errf)
    assert.equal('1\n', out)
    assert.matches('interrupted!', err)
  end)
end)

describe('th -i (the REPL loop, read from a pipe)', function()
  it('prints expression values and nothing for statements', function()
    local out, err, code = th({ '-i' }, 'x = 5\nx\n1 + 1, "two"\nnil\nprint("p")\n')
    assert.equal('5\n2\ttwo\nnil\np\n', out)
    assert.equal('', err)
    assert.equal(0, code)
  end)
  it('silences results after a trailing ;', function()
    local out = th({ '-i' }, 'x = 7\nx;\nx + 1 ;  \nx\n')
    assert.equal('7\n', out)
  end)
  it('reads more lines while a chunk is incomplete', function()
    local out = th({ '-i' }, 'for i = 1, 3 do\n  io.write(i)\nend\nprint()\n{1,\n2}\nfunction f(a)\n  return a * 2\nend\nf(21)\n')
    assert.equal('123\n{1, 2}\n42\n', out)
  end)
  it('reports an error with a traceback and keeps going', function()
    local out, err, code = th({ '-i' }, 'error("bad")\nprint("still here")\n1 +\n\n2\n')
    assert.equal('still here\n3\n', out)
    assert.matches('th: stdin:1: bad', err)
    assert.matches('stack traceback:', err)
    assert.equal(0, code)
  end)
  it('reports a syntax error at once, and an unfinished chunk at the end of input', function()
    local out, err = th({ '-i' }, 'x = = 1\nprint("next")\nfor i = 1, 2 do\n')
    assert.equal('next\n', out)
    assert.matches("unexpected symbol near '='", err)
    assert.matches("'end' expected near <eof>", err)
  end)
  it('pretty-prints tables and tensors', function()
    local out = th({ '-i' }, '{1, 2, 3}\n{a = 1, b = {c = "x"}}\ntorch.zeros(2, 3)\n')
    local lines = {}
    for l in out:gmatch('[^\n]+') do lines[#lines + 1] = l end
    assert.equal('{1, 2, 3}', lines[1])
    assert.equal('{a = 1, b = {c = "x"}}', lines[2])
    assert.equal(tostring(torch.zeros(2, 3)):match('^[^\n]*'), lines[3])
  end)
  it('runs the script first, then the REPL with its globals', function()
    local script = os.tmpname()
    write_file(script, 'y = 10')
    local out, _, code = th({ '-i', script }, 'y * 2\n')
    os.remove(script)
    assert.equal('20\n', out)
    assert.equal(0, code)
  end)
  it('interrupts a running loop on Ctrl-C and reads the next line', function()
    local errf = os.tmpname()
    local p = io.popen("(echo 'while true do end'; sleep 1; echo 'print(\"alive\")') | "
      .. quote(TH) .. ' -i 2>' .. errf .. ' & pid=$!; sleep 0.4; kill -INT $pid; wait $pid; echo "rc=$?"')
    local out = p:read('a')
    p:close()
    local err = slurp(errf)
    os.remove(errf)
    assert.equal('alive\nrc=0\n', out)
    assert.matches('interrupted!', err)
  end)
end)

describe('th.repl.pretty', function()
  it('prints lists, records and nesting on one line', function()
    assert.equal('{1, 2, 3}', repl.pretty { 1, 2, 3 })
    assert.equal('{}', repl.pretty {})
    assert.equal('{a = 1, b = {c = 2}}', repl.pretty { a = 1, b = { c = 2 } })
    assert.equal('{1, "two", [10] = 0, ["a b"] = 1.5, x = true}',
      repl.pretty { 1, 'two', x = true, ['a b'] = 1.5, [10] = 0 })
    assert.equal('{a = {b = {c = {...}}}}', repl.pretty { a = { b = { c = { d = 1 } } } })
    assert.equal('"a\\nb"', repl.pretty({ 'a\nb' }):match('^{(.*)}$'))
  end)
  it('prints top-level strings as they are and other values through tostring', function()
    assert.equal('hi', repl.pretty 'hi')
    assert.equal('1.5', repl.pretty(1.5))
    assert.equal('nil', repl.pretty(nil))
    assert.equal(tostring(torch.ones(2)), repl.pretty(torch.ones(2)))
  end)
  it('summarises tensors inside tables', function()
    assert.equal('{w = <torch.FloatTensor of size 2x3>}', repl.pretty { w = torch.zeros(2, 3) })
  end)
  it('truncates long tables and survives cycles', function()
    local t = {}
    for i = 1, 100 do t[i] = i end
    local s = repl.pretty(t)
    assert.matches('^{1, 2, 3, .*, 30, %.%.%.}$', s)
    local c = { 1 }
    c.self = c
    assert.equal('{1, self = <cycle>}', repl.pretty(c))
  end)
  it('uses __tostring of tables that have one', function()
    local obj = setmetatable({}, { __tostring = function() return 'Obj()' end })
    assert.equal('Obj()', repl.pretty(obj))
    assert.equal('{Obj()}', repl.pretty { obj })
  end)
end)

describe('th.repl.complete', function()
  local function has(list, v)
    for _, x in ipairs(list) do if x == v then return true end end
    return false
  end
  it('completes globals and keywords', function()
    local c = repl.complete('pri')
    assert.same({ 'print' }, c)
    assert.is_true(has(repl.complete('fun'), 'function'))
    assert.is_true(has(repl.complete('to'), 'torch'))
  end)
  it('completes table fields', function()
    local c = repl.complete('torch.ze')
    assert.is_true(has(c, 'torch.zeros'))
    assert.is_true(has(c, 'torch.zeros_like'))
    for _, s in ipairs(c) do assert.matches('^torch%.ze', s) end
    assert.same({ 'string.format' }, repl.complete('string.form'))
    assert.same({}, repl.complete('no_such_global_xyz.a'))
  end)
  it('completes tensor methods and fields through the methods table', function()
    local env = { x = torch.zeros(2, 3) }
    local c = repl.complete('x:si', env)
    assert.is_true(has(c, 'x:size'))
    for _, m in ipairs(c) do assert.matches('^x:si', m) end
    assert.is_true(has(repl.complete('x:', env), 'x:view'))
    assert.is_true(has(repl.complete('x.sh', env), 'x.shape'))
  end)
  it('completes methods reachable through metatables (strings, classes)', function()
    local env = { s = 'abc', obj = setmetatable({ own = 1 }, { __index = { method = function() end, value = 2 } }) }
    assert.same({ 's:upper' }, repl.complete('s:up', env))
    assert.same({ 'obj.method', 'obj.own', 'obj.value' }, repl.complete('obj.', env))
    assert.same({ 'obj:method' }, repl.complete('obj:', env))
  end)
  it('completes through th itself (the same function the Tab key calls)', function()
    local out = th { '-e', 'print(table.concat(require("th.repl").complete("torch.zeros"), " "))' }
    assert.equal('torch.zeros torch.zeros_like\n', out)
  end)
end)
