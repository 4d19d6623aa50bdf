-- The README's tour and the `make demo` tour must keep working as the API changes.
local function run(cmd)
  local p = io.popen(cmd .. ' 2>&1')
  local out = p:read('a')
  local ok, _, code = p:close()
  return ok and 0 or code, out
end

describe('docs', function()
  it("runs every Lua block of the README", function()
    local src = assert(io.open('README.md')):read('a')
    local n = 0
    for code in src:gmatch('```lua\n(.-)```') do
      n = n + 1
      local path = os.tmpname()
      local f = assert(io.open(path, 'w'))
      f:write(code)
      f:close()
      local rc, out = run('./build/th ' .. path)
      os.remove(path)
      assert.equal(0, rc, 'README block ' .. n .. ': ' .. out)
    end
    assert.is_true(n >= 2, 'README has its lua code blocks')
  end)
  it('runs the make demo tour', function()
    local rc, out = run('./build/th scripts/examples/demo.lua')
    assert.equal(0, rc, out)
    assert.is_truthy(out:find('1-based indices', 1, true) or out:find('1-based', 1, true))
  end)
end)
