const { Cart } = require("../src/cart.js");

test("an empty cart costs nothing", () => {
  expect(new Cart().total()).toBe(0);
});
